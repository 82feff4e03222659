import type { CooccurrenceCue, CueScorer, TextCue } from "../cue-scorer.js";

/**
 * How instructions aimed at the agent hide in tool descriptions, schemas and tool outputs
 * ("tool poisoning", Invariant Labs 2025; indirect prompt injection, Greshake et al. 2023): text
 * that addresses the model rather than describing the tool or the data, overrides earlier
 * instructions, asks to hide something from the user, or asks to read secrets and send them
 * somewhere. A plain usage hint ("always call list_tables first") is not one.
 * Written in lower case, matched against the lower-cased text.
 */

const strong = 3.6;
const medium = 1.9;

const cue = (label: string, weight: number, source: string): TextCue => ({
  label,
  weight,
  pattern: new RegExp(source, "g"),
});
const words = (source: string) => new RegExp(`(?:${source})`, "g");

const modelNames =
  "(?:ai|a\\.?i\\.?|assistant|assistants|language model|llm|llms|model|models|agent|agents|bot|chatbot|claude|chatgpt|gpt|copilot|virtual assistant|automated assistant|ai systems?|ai agents?)";
const instructionWords =
  "(?:instructions?|prompts?|rules|directions|directives|guidance|orders|messages|context|task)";

export const toolPoisoningCues: readonly TextCue[] = [
  cue(
    "instruction-override",
    strong,
    `\\b(?:ignore|disregard|forget|override|overrule|bypass|skip)\\s+(?:all\\s+|any\\s+|every\\s+)?(?:of\\s+)?(?:the\\s+|your\\s+|my\\s+)?(?:previous|prior|above|earlier|original|other|existing|system|user's|users'|initial)?\\s*(?:${instructionWords}|system prompt|restrictions?|approval step|what you were told|everything you were told|the user's request|the user's instructions)\\b`,
  ),
  cue(
    "instruction-override",
    strong,
    `\\b(?:new instructions|new orders|new task|your (?:new|real|actual|true) (?:task|instructions|role|orders|goal)|you are now (?:in|a|an)|from now on,? you|(?:previous|earlier|prior) (?:rules|instructions|directives) (?:no longer apply|are void|are cancelled)|system override|${instructionWords} (?:no longer apply|are void))\\b`,
  ),
  cue(
    "role-marker",
    strong,
    "<\\/?(?:important|system|system-reminder|instructions?|hidden|admin|sys)>|\\[\\[?(?:system|hidden|assistant instructions|inst|admin)\\]\\]?|<\\|im_start\\|>|^#{2,}\\s*system\\b|(?:^|\\n)\\s*(?:system|assistant)\\s*:\\s|#{3}\\s*system override",
  ),
  cue(
    "addresses-the-model",
    strong,
    `\\b(?:note to (?:the |any |all )?${modelNames}|attention,? ${modelNames}|(?:hey|dear|p\\.?s\\.?,?) ${modelNames}|(?:message|instructions?|instruction) (?:for|to) (?:the |any |all )?${modelNames}|${modelNames} instructions?|if you are (?:an? )?${modelNames}|${modelNames}s? (?:reading|processing|evaluating|summari[sz]ing|using) this|since you are an? ${modelNames}|the ${modelNames} (?:using|reading|calling) this tool)\\b`,
  ),
  cue(
    "addresses-the-model",
    medium,
    `\\b(?:the|any|all)\\s+${modelNames}\\s+(?:must|should|is required to|needs to|has to|will need to)\\b|(?:^|[.!:\\n]\\s*|<!--\\s*)${modelNames}\\s*[:,]\\s+(?:\\w+\\s+){0,2}?(?:ignore|disregard|stop|send|run|open|read|call|do|tell|mark|approve|forget|override)\\b`,
  ),
  cue(
    "conceal-from-user",
    strong,
    "\\b(?:do not|don't|never|must not|should not|shouldn't)\\s+(?:tell|mention|inform|reveal|show|notify|alert|disclose)\\s+(?:(?:this|these|it|them|anything)\\s+)?(?:(?:to|about this (?:rule|tool)?)\\s+)?(?:the\\s+)?(?:user|human|maintainers|operator|customer|person)|\\bwithout (?:telling|informing|notifying|alerting|asking) (?:the\\s+)?(?:user|human|maintainers|operator)|\\bthe (?:user|human) (?:must not|should not|does not need to|doesn't need to|need not) (?:know|see|be told)|\\b(?:keep|kept) (?:this|these|it) (?:\\w+ )?(?:secret|hidden)(?: from the user)?|\\bnever reveal (?:these|this|the) instructions|\\bhidden (?:requirement|rule|instruction)s?\\b|\\bnot visible to the user\\b|\\bsilently\\b|\\bno need to (?:confirm|ask)|\\bdo not ask for (?:confirmation|permission)",
  ),
  cue(
    "tool-shadowing",
    strong,
    "\\b(?:instead of (?:using )?the (?:\\w+[ _-]?){1,2}tool|use this instead of|this tool replaces|this tool overrides|whenever you use the \\w+ tool|when (?:the user asks|you use|you call|invoked)\\b[^.\\n]{0,60}\\b(?:also|first|add|forward|copy|bcc|cc)\\b|(?:every|all|any) (?:emails?|messages?) (?:sent )?(?:with any tool )?(?:must|should) also be)",
  ),
  cue(
    "precondition",
    medium,
    "\\bbefore (?:using|calling|running|invoking|summari[sz]ing)\\s+(?:this|the|any)?\\s*(?:tool|function|email)?\\b[^.\\n]{0,20}\\b(?:you must|must|first|always|read|call|pass)\\b|\\bthe (?:assistant|model|agent|ai) must first\\b|\\botherwise the tool will not work\\b|\\bthis is required for compliance\\b",
  ),
];

/** Reads of secrets and sending things out, which together are exfiltration. */
const secretTerms = words(
  "~\\/\\.ssh|id_rsa|id_ed25519|\\.ssh\\b|ssh keys?|\\.env\\b|\\.aws|credentials|\\.git-credentials|api[_ ]?keys?|access tokens?|secrets?(?:\\.ya?ml)?|tokens|passwords?|private keys?|cookies|\\/etc\\/passwd|\\/etc\\/shadow|environment variables?|contacts list|mailbox|tax return|private\\.txt|documents folder|funds",
);
const sendTerms = words(
  "\\b(?:send|sent|upload|uploaded|post|forward|email|e-mail|transfer|attach|append|include|pass|put|copy|exfiltrate|push|share|bcc|collect)\\b",
);
const destinationTerms = words(
  "https?:\\/\\/|ftp:\\/\\/|\\b[\\w.+-]+@[\\w-]+\\.[\\w.]+|\\b(?:argument|parameter|field|metadata|'\\w+' (?:argument|field|parameter)|next (?:tool call|http request|answer)|endpoint|account \\d+|your answer|in your answer)\\b",
);
const imperativeTerms = words(
  "\\b(?:must|should|required|needs? to|have to|please|do it|now|first|always|also|then|quietly|silently|before)\\b",
);

const toolPoisoningCooccurrences: readonly CooccurrenceCue[] = [
  {
    label: "exfiltration",
    weight: strong,
    groups: [secretTerms, sendTerms, destinationTerms],
    windowSentences: 2,
  },
  {
    label: "remote-code",
    weight: strong,
    groups: [words("\\b(?:curl|wget)\\b[^\\n|]{0,80}\\|\\s*(?:sh|bash)\\b|\\brm -rf\\b"), imperativeTerms],
    windowSentences: 2,
  },
];

export const toolPoisoningScorer: CueScorer = {
  bias: -2.4,
  cues: toolPoisoningCues,
  cooccurrences: toolPoisoningCooccurrences,
  readLength: 20_000,
};
