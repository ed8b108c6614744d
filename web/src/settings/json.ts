// A JSON syntax check that says where the first error is. The browser's
// JSON.parse messages differ between engines and often carry no position,
// so the editor walks the text itself; JSON.parse stays the judge of
// validity (see jsonProblem).

export interface JSONError {
  /** What is wrong, as a sentence. */
  message: string;
  /** Offset of the error in the text (0-based, in UTF-16 code units). */
  offset: number;
  /** 1-based line and column of offset. */
  line: number;
  column: number;
}

class SyntaxProblem {
  constructor(
    readonly message: string,
    readonly offset: number,
  ) {}
}

/** where turns an offset into a 1-based line and column. */
function where(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

/** checkJSON returns the first syntax error of text, or null when it parses. */
export function checkJSON(text: string): JSONError | null {
  let i = 0;
  const fail = (message: string, at = i): never => {
    throw new SyntaxProblem(message, at);
  };
  const space = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const describe = (at: number) => (at >= text.length ? 'the end of the text' : `“${text[at]}”`);
  const literal = (word: string) => {
    if (text.startsWith(word, i)) i += word.length;
    else fail(`Expected a value but found ${describe(i)}. Text values need double quotes.`);
  };
  const string = () => {
    const start = i;
    i++; // the opening quote
    for (;;) {
      if (i >= text.length) fail('This text value has no closing double quote.', start);
      const c = text[i]!;
      if (c === '"') {
        i++;
        return;
      }
      if (c === '\n' || c.charCodeAt(0) < 0x20) fail('A line break or control character inside a text value must be written as an escape such as \\n.');
      if (c === '\\') {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail('\\u must be followed by four hexadecimal digits.');
          i += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) fail('Unknown escape: only \\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX are allowed.');
        i += 2;
        continue;
      }
      i++;
    }
  };
  const number = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!m) return fail(`Expected a value but found ${describe(i)}.`);
    i += m[0].length;
  };
  const value = (): void => {
    space();
    const c = text[i];
    if (c === undefined) fail('The text ends where a value was expected.');
    if (c === '{') return object();
    if (c === '[') return array();
    if (c === '"') return string();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    if (c === '-' || (c! >= '0' && c! <= '9')) return number();
    if (c === "'") fail('Text values need double quotes, not single quotes.');
    fail(`Expected a value but found ${describe(i)}.`);
  };
  const object = () => {
    i++; // {
    space();
    if (text[i] === '}') {
      i++;
      return;
    }
    for (;;) {
      space();
      if (text[i] === '}') fail('There is a comma before this closing brace; remove it.');
      if (text[i] !== '"') fail(`Expected a property name in double quotes but found ${describe(i)}.`);
      string();
      space();
      if (text[i] !== ':') fail(`Expected “:” after the property name but found ${describe(i)}.`);
      i++;
      value();
      space();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '}') {
        i++;
        return;
      }
      fail(`Expected “,” or “}” but found ${describe(i)}.`);
    }
  };
  const array = () => {
    i++; // [
    space();
    if (text[i] === ']') {
      i++;
      return;
    }
    for (;;) {
      space();
      if (text[i] === ']') fail('There is a comma before this closing bracket; remove it.');
      value();
      space();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === ']') {
        i++;
        return;
      }
      fail(`Expected “,” or “]” but found ${describe(i)}.`);
    }
  };
  try {
    value();
    space();
    if (i < text.length) fail(`There is more text after the JSON value: ${describe(i)}.`);
  } catch (err) {
    if (!(err instanceof SyntaxProblem)) throw err;
    const offset = Math.min(err.offset, text.length);
    return { message: err.message, offset, ...where(text, offset) };
  }
  return null;
}
