// A small Markdown renderer for chat messages that builds Preact vnodes
// from text, never HTML: whatever a message holds ends up as text nodes
// and a fixed set of elements (p, br, strong, em, code, pre, ul, ol, li,
// a). Links are kept only for http, https and mailto URLs.
import { h } from 'preact';

const safeURL = (u) => /^(https?:\/\/|mailto:)/i.test(u);

// Inline spans: `code`, **bold**, *em* or _em_, [text](url), bare URLs.
const inlinePattern = /(`+)([^`]+?)\1|\*\*([^*]+?)\*\*|__([^_]+?)__|\*([^*\s][^*]*?)\*|\b_([^_\s][^_]*?)_\b|\[([^\]]+)\]\(([^)\s]+)\)|(https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"])/g;

export function inline(text, depth = 0) {
  const out = [];
  let last = 0;
  let m;
  const re = new RegExp(inlinePattern.source, 'g');
  while ((m = re.exec(text))) {
    if (m.index > last) out.push(text.slice(last, m.index));
    const sub = (s) => (depth < 4 ? inline(s, depth + 1) : s);
    if (m[2] !== undefined) out.push(h('code', null, m[2]));
    else if (m[3] !== undefined) out.push(h('strong', null, sub(m[3])));
    else if (m[4] !== undefined) out.push(h('strong', null, sub(m[4])));
    else if (m[5] !== undefined) out.push(h('em', null, sub(m[5])));
    else if (m[6] !== undefined) out.push(h('em', null, sub(m[6])));
    else if (m[7] !== undefined) out.push(safeURL(m[8]) ? link(m[8], sub(m[7])) : m[0]);
    else if (m[9] !== undefined) out.push(link(m[9], m[9]));
    last = re.lastIndex;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

function link(href, children) {
  return h('a', { href, target: '_blank', rel: 'noopener noreferrer nofollow' }, children);
}

function withBreaks(lines) {
  const out = [];
  lines.forEach((l, i) => {
    if (i) out.push(h('br', null));
    out.push(...inline(l));
  });
  return out;
}

/** Renders Markdown text as an array of vnodes. */
export function markdown(text) {
  const lines = String(text).replace(/\r\n?/g, '\n').split('\n');
  const blocks = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (/^```/.test(line)) {
      const code = [];
      i++;
      while (i < lines.length && !/^```/.test(lines[i])) code.push(lines[i++]);
      i++;
      blocks.push(h('pre', null, h('code', null, code.join('\n'))));
    } else if (/^\s*[-*+]\s+/.test(line)) {
      const items = [];
      while (i < lines.length && /^\s*[-*+]\s+/.test(lines[i])) items.push(lines[i++].replace(/^\s*[-*+]\s+/, ''));
      blocks.push(h('ul', null, items.map((t) => h('li', null, inline(t)))));
    } else if (/^\s*\d+[.)]\s+/.test(line)) {
      const items = [];
      while (i < lines.length && /^\s*\d+[.)]\s+/.test(lines[i])) items.push(lines[i++].replace(/^\s*\d+[.)]\s+/, ''));
      blocks.push(h('ol', null, items.map((t) => h('li', null, inline(t)))));
    } else if (line.trim() === '') {
      i++;
    } else {
      const para = [];
      while (i < lines.length && lines[i].trim() !== '' && !/^```|^\s*[-*+]\s+|^\s*\d+[.)]\s+/.test(lines[i])) {
        para.push(lines[i++].replace(/^#{1,6}\s+/, ''));
      }
      blocks.push(h('p', null, withBreaks(para)));
    }
  }
  return blocks;
}

/** Renders plain text: line breaks and links, nothing else. */
export function plain(text) {
  return String(text).split(/\r\n?|\n/).flatMap((l, i) => {
    const parts = [];
    let last = 0;
    const re = /https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"]/g;
    let m;
    while ((m = re.exec(l))) {
      if (m.index > last) parts.push(l.slice(last, m.index));
      parts.push(link(m[0], m[0]));
      last = re.lastIndex;
    }
    if (last < l.length) parts.push(l.slice(last));
    return i ? [h('br', null), ...parts] : parts;
  });
}
