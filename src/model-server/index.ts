export type { Conversation, ConversationMessage, ConversationRole } from "./conversation.js";
export { parseScript, type ScriptResult, validateScript } from "./parse-script.js";
export { scriptJsonSchema } from "./script-json-schema.js";
export {
  type Script,
  type ScriptAlternative,
  type ScriptApi,
  type ScriptReply,
  type ScriptRule,
  type ScriptToolCall,
  type ScriptWhen,
  scriptApis,
  scriptSchema,
  type TextMatcher,
} from "./script-schema.js";
export {
  type RecordedRequest,
  type ScriptedModelServer,
  type ScriptedModelServerOptions,
  startScriptedModelServer,
} from "./scripted-model-server.js";
