// The Watson Assistant web chat service desk: it escalates a web chat
// conversation to Helpline's human agents. A company loads
// /servicedesk.js on the page that runs web chat and passes
//
//   serviceDeskFactory: (parameters) => HelplineServiceDesk.create(parameters, { instance: 'default' })
//
// in watsonAssistantChatOptions. Web chat calls the ServiceDesk methods
// below; what Helpline's agents do reaches web chat through
// parameters.callback (ServiceDeskCallback). Chats start through the
// widget API (an allowed origin of the instance's widget) and run on the
// Amazon Connect participant API and WebSocket, as the customer widget's do.
import { CT, Connection, newToken, newWidgetAPI } from '../shared/connection.js';

// ErrorType of ServiceDeskCallback.setErrorStatus.
const ErrorType = { CONNECTING: 1, DISCONNECTED: 2 };

const staffRoles = { AGENT: 1, SUPERVISOR: 1 };

// positionNotice is routing's queue notice (app/routing.go positionNotice):
// Helpline tells a waiting customer their place in a SYSTEM message.
const positionNotice = /^You are number (\d+) in the queue\.$/;

// leftGrace is how long, after the agent leaves, to wait for what follows:
// chat.ended (the agent closed the chat), another agent joining or a queue
// notice (a transfer). Nothing within it means the agent just left.
const leftGrace = 3000;

// typingTimeout ends an agent's typing indicator when no message follows:
// Connect's typing events say only that someone is typing.
const typingTimeout = 12000;

// fileTypes are the attachments Helpline takes (chat/validate.go), in the
// syntax of an input's accept attribute.
const fileTypes = '.csv,.doc,.docx,.heic,.jfif,.jpeg,.jpg,.mov,.mp4,.pdf,.png,.ppt,.pptx,.rtf,.txt,.wav,.xls,.xlsx';

// scriptBase is the Helpline this file was loaded from.
const scriptBase = (() => {
  try {
    return new URL('.', document.currentScript.src).href.replace(/\/$/, '');
  } catch {
    return '';
  }
})();

/** The text of a web chat message's generic items of type text. */
function texts(generic) {
  return (generic || []).filter((g) => g && g.response_type === 'text' && g.text).map((g) => g.text).join('\n');
}

class ServiceDesk {
  /**
   * callback is web chat's ServiceDeskCallback; options: instance (the
   * Helpline instance id, default 'default'), url (Helpline's base URL,
   * default the one /servicedesk.js came from), and optionally name,
   * email, fields (the widget's pre-chat fields), identityToken (a JWT
   * signed with the widget's secret, or a function returning one) and
   * context (more contact attributes, or a function of the connect
   * message returning them).
   */
  constructor(callback, options = {}) {
    this.callback = callback;
    this.options = options;
    this.instance = options.instance || 'default';
    this.base = (options.url || scriptBase).replace(/\/$/, '');
    this.api = newWidgetAPI(this.base);
    this.state = {};
  }

  getName() {
    return 'Helpline';
  }

  updateState(state) {
    this.state = { ...this.state, ...state };
  }

  async areAnyAgentsOnline() {
    try {
      return (await this.api.availability(this.instance)).available;
    } catch (e) {
      console.warn('Helpline: availability unknown:', e.message);
      return null;
    }
  }

  async startChat(connectMessage, startChatOptions) {
    this.stop();
    const item = (connectMessage?.output?.generic || []).find((g) => g.response_type === 'connect_to_agent') || {};
    const info = item.transfer_info || {};
    const context = {};
    const key = startChatOptions?.agentAppInfo?.sessionHistoryKey || info.session_history_key;
    if (key) context.session_history_key = key;
    if (item.topic) context.topic = item.topic;
    if (item.message_to_human_agent) context.message_to_human_agent = item.message_to_human_agent;
    const summary = texts(info.summary_message_to_agent);
    if (summary) context.summary_message_to_agent = summary;
    const o = this.options;
    Object.assign(context, typeof o.context === 'function' ? await o.context(connectMessage) : o.context);
    const body = { client_token: newToken(), context };
    if (o.name) body.name = o.name;
    if (o.email) body.email = o.email;
    if (o.fields) body.fields = o.fields;
    const identity = typeof o.identityToken === 'function' ? await o.identityToken() : o.identityToken;
    if (identity) body.identity_token = identity;
    // A refusal (origin, rate, form) rejects: web chat tells the user
    // the chat could not start.
    const out = await this.api.start(this.instance, body);
    const chat = new Chat(this, { contactId: out.contact_id, participantId: out.participant_id, participantToken: out.participant_token });
    this.chat = chat;
    chat.conn.connect();
  }

  async endChat() {
    const chat = this.chat;
    this.chat = null;
    if (!chat) return;
    chat.userEnded = true;
    try {
      await chat.conn.disconnect();
    } catch (e) {
      console.warn('Helpline: ending the chat:', e.message);
    } finally {
      chat.close();
    }
  }

  async sendMessageToAgent(message, messageID, additionalData) {
    const chat = this.live();
    const text = message?.input?.text || '';
    if (text) await chat.conn.send(CT.plain, text, messageID || newToken());
    for (const upload of additionalData?.filesToUpload || []) {
      try {
        await chat.conn.upload(upload.file, () => {});
        this.callback.setFileUploadStatus?.(upload.id);
      } catch (e) {
        this.callback.setFileUploadStatus?.(upload.id, true, e.message);
      }
    }
  }

  async userTyping(isTyping) {
    // Connect has no "stopped typing": the indicator times out.
    if (isTyping && this.chat?.conn.status === 'online') await this.chat.conn.event(CT.typing);
  }

  async userReadMessages() {
    const chat = this.chat;
    if (chat?.lastAgentMessage && chat.conn.status === 'online') await chat.conn.event(CT.read, { messageId: chat.lastAgentMessage });
  }

  filesSelectedForUpload() {
    // Helpline checks type and size when the file is sent (setFileUploadStatus).
  }

  live() {
    if (!this.chat || this.chat.conn.closed) throw new Error('There is no chat with an agent.');
    return this.chat;
  }

  stop() {
    if (this.chat) this.chat.close();
    this.chat = null;
  }
}

/**
 * Chat is one escalated conversation: it turns the transcript's items
 * into web chat's callbacks. The agent is who joined last and has not
 * left; a departure waits leftGrace for what follows.
 */
class Chat {
  constructor(desk, chat) {
    this.desk = desk;
    this.cb = desk.callback;
    this.seen = new Set();
    this.agent = null; // {id, nickname} of the agent in the chat
    this.hadAgent = false; // an agent was in the chat once
    this.transferring = false; // beginTransferToAnotherAgent said, no agentJoined yet
    this.ended = false;
    this.userEnded = false;
    this.disconnected = false;
    this.conn = new Connection(chat, {
      base: desk.base,
      onItems: (items) => items.forEach((it) => this.take(it)),
      onStatus: (s) => this.status(s),
      onTyping: (it) => this.typing(it),
    });
    this.cb.updateCapabilities?.({ allowFileUploads: true, allowMultipleFileUploads: true, allowedFileUploadTypes: fileTypes });
  }

  take(it) {
    if (it.Id) {
      if (this.seen.has(it.Id)) return;
      this.seen.add(it.Id);
    }
    const me = this.conn.chat.participantId;
    if (it.Type === 'MESSAGEMETADATA') {
      const read = (it.MessageMetadata?.Receipts || []).some((r) => r.ReadTimestamp && r.RecipientParticipantId !== me);
      if (read) this.cb.agentReadMessages?.();
    } else if (it.ContentType === CT.joined && staffRoles[it.ParticipantRole]) {
      this.joined({ id: it.ParticipantId, nickname: it.DisplayName || 'Agent' });
    } else if (it.ContentType === CT.left && staffRoles[it.ParticipantRole] && this.agent?.id === it.ParticipantId) {
      this.left();
    } else if (it.ContentType === CT.ended) {
      this.chatEnded();
    } else if ((it.Type === 'MESSAGE' || it.Type === 'ATTACHMENT') && it.ParticipantRole !== 'CUSTOMER' && it.ParticipantId !== me) {
      this.message(it);
    }
  }

  joined(profile) {
    if (this.agent?.id === profile.id) return;
    clearTimeout(this.leftTimer);
    if ((this.hadAgent || this.agent) && !this.transferring) this.cb.beginTransferToAnotherAgent(profile);
    this.agent = profile;
    this.hadAgent = true;
    this.transferring = false;
    this.cb.agentJoined(profile);
  }

  left() {
    this.stopTyping();
    this.agent = null;
    clearTimeout(this.leftTimer);
    this.leftTimer = setTimeout(() => {
      if (!this.ended && !this.agent && !this.transferring) this.cb.agentLeftChat();
    }, leftGrace);
  }

  chatEnded() {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.leftTimer);
    this.stopTyping();
    if (!this.userEnded) this.cb.agentEndedChat();
    if (this.desk.chat === this) this.desk.chat = null;
  }

  async message(it) {
    if (it.ParticipantRole === 'SYSTEM') {
      const m = positionNotice.exec(it.Content || '');
      if (m) return this.waiting({ position_in_queue: Number(m[1]) });
      if (!this.agent) return this.waiting({ message: it.Content || '' });
    }
    if (it.ParticipantId === this.typingFrom) this.stopTyping();
    let text = it.Content || '';
    if (it.Type === 'ATTACHMENT') {
      const links = [];
      for (const a of it.Attachments || []) {
        const url = await this.conn.attachmentURL(a.AttachmentId).catch(() => '');
        links.push(url ? `[${a.AttachmentName}](${url})` : a.AttachmentName);
      }
      text = links.join('\n');
    } else if (it.ContentType !== CT.plain && it.ContentType !== CT.markdown) {
      return;
    }
    if (staffRoles[it.ParticipantRole]) this.lastAgentMessage = it.Id;
    if (text) this.cb.sendMessageToUser(text, it.ParticipantId);
  }

  /** The user waits in a queue: a transfer, if an agent was there. */
  waiting(availability) {
    clearTimeout(this.leftTimer);
    if (this.hadAgent && !this.agent && !this.transferring) {
      this.transferring = true;
      this.cb.beginTransferToAnotherAgent();
    }
    this.cb.updateAgentAvailability(availability);
  }

  typing(it) {
    if (!staffRoles[it.ParticipantRole]) return;
    clearTimeout(this.typingTimer);
    if (!this.typingFrom) this.cb.agentTyping(true);
    this.typingFrom = it.ParticipantId;
    this.typingTimer = setTimeout(() => this.stopTyping(), typingTimeout);
  }

  stopTyping() {
    clearTimeout(this.typingTimer);
    if (this.typingFrom) {
      this.typingFrom = null;
      this.cb.agentTyping(false);
    }
  }

  status(s) {
    if (s === 'offline' && !this.disconnected) {
      this.disconnected = true;
      this.cb.setErrorStatus({ type: ErrorType.DISCONNECTED, isDisconnected: true, logInfo: 'Helpline: the connection was lost; reconnecting.' });
    } else if (s === 'online' && this.disconnected) {
      this.disconnected = false;
      this.cb.setErrorStatus({ type: ErrorType.DISCONNECTED, isDisconnected: false });
    } else if (s === 'ended' && !this.ended && !this.userEnded) {
      // The chat can no longer be reached (its token was refused): web
      // chat treats it as ended.
      this.ended = true;
      this.cb.setErrorStatus({ type: ErrorType.CONNECTING, logInfo: 'Helpline: the chat can no longer be reached.' });
    }
  }

  close() {
    clearTimeout(this.leftTimer);
    clearTimeout(this.typingTimer);
    this.conn.close();
  }
}

/** Creates a service desk for web chat's serviceDeskFactory(parameters). */
function create(parameters, options) {
  return new ServiceDesk(parameters.callback, options);
}

window.HelplineServiceDesk = { create };
