import { h, render } from 'preact';
import htm from 'htm';

const html = htm.bind(h);
render(html`<p>Chat</p>`, document.getElementById('app'));
