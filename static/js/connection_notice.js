// When a part of a page that refreshes itself (htmx: a job's state, the budget preview, a list
// that follows its rows) cannot reach the portal, or the portal answers with an error, the
// notice at the top of the page says so. The part keeps what it last showed and keeps trying;
// the notice goes away at the next answer that works.
(() => {
  const notice = () => document.getElementById("connection-notice");
  const show = (key) => {
    const element = notice();
    if (!element) return;
    element.textContent = element.dataset[key];
    element.hidden = false;
  };
  document.addEventListener("htmx:sendError", () => show("offline"));
  document.addEventListener("htmx:responseError", (event) => {
    show(event.detail.xhr && event.detail.xhr.status >= 500 ? "unavailable" : "failed");
  });
  document.addEventListener("htmx:afterRequest", (event) => {
    const element = notice();
    if (element && event.detail.successful) element.hidden = true;
  });
})();
