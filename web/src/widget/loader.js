// widget.js: the snippet a site pastes. It adds the launcher and the chat
// window (an iframe on Helpline's origin) to the host page.
(function () {
  const script = document.currentScript;
  if (!script) return;
  const origin = new URL(script.src).origin;
  const instance = script.dataset.instance || 'default';
  const frame = document.createElement('iframe');
  frame.title = 'Chat';
  frame.src = `${origin}/widget/?instance=${encodeURIComponent(instance)}`;
  frame.style.cssText = 'position:fixed;bottom:0;right:0;width:400px;height:640px;border:0;z-index:2147483000';
  document.body.appendChild(frame);
})();
