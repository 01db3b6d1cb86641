// The top navigation's last links move into the menu when they do not all fit on one line (an
// agency admin has 16; at 1280 px the last ones and the sign-out menu were pushed off the screen).
// Each link has its twin in the menu (base.html, .menu-nav), shown when the link is moved.
(function () {
  var bar = document.querySelector(".topbar");
  var row = bar && bar.querySelector(".topnav");
  var links = bar ? bar.querySelectorAll(".main-nav li") : [];
  var twins = bar ? bar.querySelectorAll("details.user-menu .menu-nav") : [];
  if (!row || !links.length || links.length !== twins.length) return;
  var menu = bar.querySelector("details.user-menu");
  // Too wide: the row scrolls, or the menu is pushed into the row's right padding (which
  // scrollWidth does not count) once the agency's name keeps its minimum width.
  function overflows() {
    if (row.scrollWidth > row.clientWidth + 1) return true;
    var limit = row.getBoundingClientRect().right - parseFloat(getComputedStyle(row).paddingRight);
    return !!menu && menu.getBoundingClientRect().right > limit + 1;
  }
  function fit() {
    bar.classList.remove("nav-overflow");
    for (var i = 0; i < links.length; i++) {
      links[i].classList.remove("nav-moved");
      twins[i].classList.remove("nav-moved");
    }
    for (var j = links.length - 1; j >= 0 && overflows(); j--) {
      links[j].classList.add("nav-moved");
      twins[j].classList.add("nav-moved");
      bar.classList.add("nav-overflow");
    }
  }
  fit();
  window.addEventListener("resize", fit);
})();
