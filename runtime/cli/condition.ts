// The text form of bottle conditions lives in protocol/condition-text.ts (fleet mcp uses it too).
export { parseCondition } from "../protocol/condition-text.js";
