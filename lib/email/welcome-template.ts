// The welcome email, in Portuguese: subject, plain text and HTML in one place. To change the
// wording, edit the texts below; the dispatcher only calls `welcomeEmail()`.
//
// Note: Resend's idempotency key is tied to the request body. Editing this template while an email
// is being retried (a send in flight, or a 5xx a minute ago) makes the retry's body differ from the
// first attempt's: Resend then answers 409 `invalid_idempotent_request` and the row is marked dead
// (see README "Welcome emails"), never sent twice.

export interface WelcomeData {
  /** mentorados.nome_completo */
  nomeCompleto: string;
  /** mentorados.turma (the cohort slug, e.g. `neon_estrutura`) */
  turma: string;
}

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

/** How a turma slug is shown. Slugs not listed are shown with `_`/`-` as spaces, words capitalised. */
export const TURMA_LABELS: Record<string, string> = {
  neon_estrutura: "Neon Estrutura",
};

const SIGNATURE = "Equipe da Mentoria";

export function turmaLabel(turma: string): string {
  const slug = turma.trim();
  const known = TURMA_LABELS[slug];
  if (known) return known;
  return slug
    .split(/[_\-\s]+/)
    .filter(Boolean)
    .map((w) => w.charAt(0).toLocaleUpperCase("pt-BR") + w.slice(1))
    .join(" ");
}

/** The first word of the full name, for the greeting ("Olá, Ana!"). */
export function primeiroNome(nomeCompleto: string): string {
  return clean(nomeCompleto).split(" ")[0] || "";
}

/** Control characters (a newline in a name would break the subject line) become spaces. */
function clean(s: string): string {
  let out = "";
  for (const ch of s) out += ch.charCodeAt(0) < 32 || ch.charCodeAt(0) === 127 ? " " : ch;
  return out.replace(/\s+/g, " ").trim();
}

export function escapeHtml(s: string): string {
  return s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** The body, one paragraph per line of this list; `{turma}` is replaced by the turma's label. */
const PARAGRAFOS = [
  "Que bom ter você com a gente. Seu cadastro na mentoria está confirmado e você já faz parte da turma {turma}.",
  "Nos próximos dias você vai receber as informações sobre os encontros, os materiais e como falar com a equipe.",
  "Se tiver qualquer dúvida, é só responder a este e-mail.",
];

export function welcomeEmail(data: WelcomeData): RenderedEmail {
  const nome = primeiroNome(data.nomeCompleto);
  const turma = clean(turmaLabel(data.turma));
  const saudacao = nome ? `Olá, ${nome}!` : "Olá!";
  const subject = nome ? `Boas-vindas à mentoria, ${nome}!` : "Boas-vindas à mentoria!";

  const text = [
    saudacao,
    "",
    ...PARAGRAFOS.flatMap((t) => [t.replaceAll("{turma}", turma), ""]),
    "Um abraço,",
    SIGNATURE,
    "",
  ].join("\n");

  const p = (inner: string) =>
    `<p style="margin:0 0 16px;font-size:16px;line-height:24px;color:#1f2937">${inner}</p>`;
  const body = [
    p(`<strong>${escapeHtml(saudacao)}</strong>`),
    ...PARAGRAFOS.map((t) =>
      p(escapeHtml(t).replaceAll("{turma}", `<strong>${escapeHtml(turma)}</strong>`)),
    ),
    p(`Um abraço,<br>${escapeHtml(SIGNATURE)}`),
  ].join("\n");
  const html = `<!doctype html>
<html lang="pt-BR">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(subject)}</title></head>
<body style="margin:0;padding:0;background:#f3f4f6">
<div style="max-width:560px;margin:0 auto;padding:32px 24px;background:#ffffff;font-family:Arial,Helvetica,sans-serif">
${body}
</div>
</body>
</html>
`;
  return { subject, text, html };
}
