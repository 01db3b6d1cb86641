// Keyboard shortcuts for the worklist: an element with data-shortcut="k" reacts to the key k.
// A <details> panel opens and focuses its first field; a button is pressed. Keys typed into a
// field are left alone; "?" shows the list, Escape closes panels.
(function () {
  function typing(target) {
    return target.closest("input, textarea, select, [contenteditable]") !== null;
  }
  function closePanels() {
    document.querySelectorAll("details[data-shortcut][open]").forEach(function (d) { d.open = false; });
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape") { closePanels(); return; }
    if (typing(event.target)) return;
    if (event.key === "?") {
      var help = document.getElementById("shortcut-help");
      if (help && help.showModal) { help.showModal(); event.preventDefault(); }
      return;
    }
    var target = document.querySelector('[data-shortcut="' + event.key + '"]');
    if (!target) return;
    event.preventDefault();
    if (target.tagName === "DETAILS") {
      closePanels();
      target.open = true;
      var field = target.querySelector("input:not([type=hidden]), textarea, select");
      if (field) field.focus();
      target.scrollIntoView({block: "nearest"});
    } else if (target.tagName === "FORM") {
      target.requestSubmit();
    } else {
      target.click();
    }
  });
})();
