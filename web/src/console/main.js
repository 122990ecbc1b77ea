import { h, render } from 'preact';
import htm from 'htm';

const html = htm.bind(h);
render(html`<p>Helpline console</p>`, document.getElementById('app'));
