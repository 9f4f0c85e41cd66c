// A checkbox with data-tick-all="<name>" ticks or unticks every checkbox of that name in its
// form (the console queue's "tick every job on this page"). Without script the page works
// the same, one box at a time.
document.addEventListener("change", (event) => {
  const all = event.target.closest("[data-tick-all]");
  if (!all || !all.form) return;
  for (const box of all.form.querySelectorAll(`input[type="checkbox"][name="${all.dataset.tickAll}"]`)) {
    box.checked = all.checked;
  }
});
