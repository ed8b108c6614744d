// The password rules the server applies (internal/auth CheckPassword),
// shown before someone types, and the ones a browser can check itself.
// The list of leaked passwords stays on the server.

export const minPasswordLength = 12;
const maxPasswordBytes = 72;

/** passwordProblem says what is wrong with p by the rules a browser can
 * check, or '' when those pass (the server still checks the rest). */
export function passwordProblem(p: string): string {
  const chars = [...p];
  if (chars.length < minPasswordLength) {
    return `The password must be at least ${minPasswordLength} characters; it has ${chars.length}.`;
  }
  if (new TextEncoder().encode(p).length > maxPasswordBytes) {
    return `The password must be at most ${maxPasswordBytes} bytes; shorten it.`;
  }
  if (chars.every((c) => c === chars[0])) return 'The password must not be one character repeated.';
  return '';
}

export function PasswordRules({ id }: { id: string }) {
  return (
    <div className="hint" id={id}>
      A password needs:
      <ul className="rules">
        <li>at least {minPasswordLength} characters (at most {maxPasswordBytes} bytes),</li>
        <li>more than one character repeated over and over,</li>
        <li>not to be in the list of leaked passwords the server checks.</li>
      </ul>
    </div>
  );
}
