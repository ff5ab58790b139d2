/** Types for the split-sms@0.1.7 devDependency (it ships none), as far as the cross-check uses it. */
declare module 'split-sms' {
  interface SplitPart {
    content?: string;
    length: number;
    bytes: number;
  }
  interface SplitResult {
    characterSet: 'GSM' | 'Unicode';
    parts: SplitPart[];
    bytes: number;
    length: number;
    remainingInPart: number;
  }
  export function split(
    message: string,
    options?: { characterset?: 'GSM' | 'Unicode'; summary?: boolean },
  ): SplitResult;
}
