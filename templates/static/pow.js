// Sealpost's proof of work: starts the vendored ALTCHA widget (templates/static/altcha/).
// The widget is the build without bundled workers, so that the page's Content-Security-Policy
// needs no blob: or data: scripts: its one worker, PBKDF2, is served by this site like the
// widget itself. Nothing here or in the widget talks to any host but this one.
globalThis.$altcha.algorithms.set(
  "PBKDF2/SHA-256",
  () => new Worker("/static/altcha/pbkdf2.js"),
);

// A challenge that expires while the visitor is still writing is replaced at once, so that the
// form is ready when they send it.
for (const widget of document.querySelectorAll("altcha-widget")) {
  widget.addEventListener("expired", () => widget.verify());
}
