// widget.js: the snippet a site pastes,
//   <script src="https://HOST/widget.js" data-instance="INSTANCE_ID" async></script>
// It adds the chat as an iframe on Helpline's origin, which shows the
// launcher and, once opened, the chat window; the frame tells this script
// (by postMessage, from Helpline's origin only) how to size it. A site
// that knows who its visitor is passes a signed identity token in
// data-identity-token or with HelplineWidget.identify(token).
(function () {
  var script = document.currentScript;
  if (!script || window.HelplineWidget) return;
  var origin = new URL(script.src).origin;
  var frame = document.createElement('iframe');
  var open = false;
  var side = 'right';
  var token = script.getAttribute('data-identity-token') || '';
  frame.title = 'Chat';
  frame.src = origin + '/widget/?instance=' + encodeURIComponent(script.getAttribute('data-instance') || 'default');

  function layout() {
    var full = open && innerWidth < 480;
    var w = full ? '100%' : open ? 'min(400px, calc(100% - 32px))' : '72px';
    var h = full ? '100%' : open ? 'min(640px, calc(100% - 32px))' : '72px';
    var gap = full ? '0' : '16px';
    if (frame.contentWindow) frame.contentWindow.postMessage({ type: 'helpline:host', full: full }, origin);
    frame.style.cssText = 'position:fixed;border:0;margin:0;padding:0;z-index:2147483000;background:transparent;color-scheme:normal;' +
      'bottom:' + gap + ';' + side + ':' + gap + ';width:' + w + ';height:' + h + ';max-width:100%;max-height:100%';
  }

  function identify() {
    if (token && frame.contentWindow) frame.contentWindow.postMessage({ type: 'helpline:identity', token: token }, origin);
  }

  addEventListener('message', function (e) {
    var d = e.data;
    if (e.origin !== origin || e.source !== frame.contentWindow || !d || d.source !== 'helpline') return;
    if (d.type === 'helpline:layout') {
      open = !!d.open;
      side = d.position === 'left' ? 'left' : 'right';
      layout();
      identify();
    }
  });
  addEventListener('resize', layout);
  window.HelplineWidget = {
    identify: function (t) {
      token = String(t || '');
      identify();
    },
  };
  layout();
  (document.body ? Promise.resolve() : new Promise(function (r) { addEventListener('DOMContentLoaded', r); })).then(function () {
    document.body.appendChild(frame);
  });
})();
