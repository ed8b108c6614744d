// A modal question before something that cannot be taken back lightly:
// removing a stored value, leaving unsaved typing. A native <dialog>
// traps focus and closes on Escape; focus starts on the safe choice and
// goes back where it was afterwards.
import { useEffect, useId, useRef, type ReactNode } from 'react';

export interface Question {
  title: string;
  body: ReactNode;
  /** Label of the button that goes ahead. */
  yes: string;
  /** Label of the button that keeps things as they are. */
  no: string;
  onYes(): void;
  onNo?(): void;
}

export function ConfirmDialog({ question, onClose }: { question: Question | null; onClose(): void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const noRef = useRef<HTMLButtonElement>(null);
  const returnTo = useRef<Element | null>(null);
  const titleId = useId();
  const bodyId = useId();

  useEffect(() => {
    const d = ref.current;
    if (!d || !question) return;
    returnTo.current = document.activeElement;
    if (!d.open) d.showModal();
    noRef.current?.focus();
    return () => {
      if (d.open) d.close();
    };
  }, [question]);

  if (!question) return <dialog ref={ref} className="dialog" aria-label="Question" />;
  // The dialog closes and focus goes back before the answer runs, so
  // that the answer can move focus on (to the editor it keeps, say).
  const answer = (yes: boolean) => {
    ref.current?.close();
    const back = returnTo.current;
    if (back instanceof HTMLElement && back.isConnected) back.focus();
    onClose();
    if (yes) question.onYes();
    else question.onNo?.();
  };
  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby={titleId}
      aria-describedby={bodyId}
      onCancel={(e) => {
        e.preventDefault();
        answer(false);
      }}
    >
      <h2 id={titleId}>{question.title}</h2>
      <div id={bodyId}>{question.body}</div>
      <div className="dialog-actions">
        <button type="button" className="btn btn-primary" onClick={() => answer(true)}>
          {question.yes}
        </button>
        <button type="button" className="btn" ref={noRef} onClick={() => answer(false)}>
          {question.no}
        </button>
      </div>
    </dialog>
  );
}
