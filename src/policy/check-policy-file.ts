import { loadConstitutionFile } from "./load-constitution-file.js";

/**
 * The problems of a constitution file, one line each; none means it is valid. Backs
 * `warden policy check FILE`.
 *
 * @example
 * const problems = await checkPolicyFile("policies/example.yaml"); // []
 */
export async function checkPolicyFile(path: string): Promise<string[]> {
  const result = await loadConstitutionFile(path);
  return result.ok ? [] : result.problems;
}
