import { describe, expect, it } from "vitest";
import { modelReplyText } from "./model-reply-text.js";

describe("modelReplyText", () => {
  it("reads OpenAI Chat Completions content, text parts and refusals", () => {
    const data = {
      streamed: false,
      body: {
        choices: [
          { message: { role: "assistant", content: "Hello." } },
          { message: { content: [{ type: "text", text: "Part." }], refusal: "I can't do that." } },
        ],
      },
    };
    expect(modelReplyText(data)).toEqual([
      { field: "body.choices[0].message.content", text: "Hello." },
      { field: "body.choices[1].message.content[0].text", text: "Part." },
      { field: "body.choices[1].message.refusal", text: "I can't do that." },
    ]);
  });

  it("reads OpenAI Responses output text and refusal parts", () => {
    const data = {
      body: {
        output: [
          { type: "reasoning", summary: [] },
          {
            type: "message",
            content: [
              { type: "output_text", text: "Answer." },
              { type: "refusal", refusal: "No." },
            ],
          },
        ],
      },
    };
    expect(modelReplyText(data)).toEqual([
      { field: "body.output[1].content[0].text", text: "Answer." },
      { field: "body.output[1].content[1].refusal", text: "No." },
    ]);
  });

  it("reads Anthropic Messages text blocks and skips tool use", () => {
    const data = {
      body: {
        content: [
          { type: "text", text: "Let me check." },
          { type: "tool_use", id: "t", name: "read", input: {} },
        ],
      },
    };
    expect(modelReplyText(data)).toEqual([{ field: "body.content[0].text", text: "Let me check." }]);
  });

  it("reads the gateway's summary of a streamed reply", () => {
    expect(modelReplyText({ streamed: true, body: { text: "Streamed.", reasoning: "" } })).toEqual([
      { field: "body.text", text: "Streamed." },
    ]);
  });

  it("yields nothing for bodies it does not know, without throwing", () => {
    for (const data of [null, 1, {}, { body: "x" }, { body: { choices: [null, { message: 3 }] } }]) {
      expect(modelReplyText(data)).toEqual([]);
    }
  });
});
