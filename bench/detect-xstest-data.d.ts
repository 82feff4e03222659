export interface XstestRow {
  id: string;
  prompt: string;
  text: string;
  label: string;
  refusal: boolean;
}
export const xstestDirectory: string;
export const xstestFiles: string[];
export function parseCsv(text: string): string[][];
export function readXstestFile(file: string): XstestRow[];
export function xstestAvailable(): boolean;
