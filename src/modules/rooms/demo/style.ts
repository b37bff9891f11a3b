/**
 * The demo page's style sheet, inline and allowed by its hash (page.ts). A raw template
 * string: it must contain no backtick and no dollar-brace sequence.
 */
export const DEMO_STYLE = String.raw`
:root { color-scheme: light dark; --fg: #1d2330; --muted: #667085; --line: #d0d5dd; --bg: #f6f7f9; --card: #fff; --accent: #2b59c3; --ok: #16794c; --bad: #b42318; --warn: #b54708; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e8ee; --muted: #98a2b3; --line: #344054; --bg: #101828; --card: #1d2939; --accent: #7aa2ff; --ok: #4ade80; --bad: #f97066; --warn: #fdb022; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; gap: 12px; padding: 10px 16px; border-bottom: 1px solid var(--line); background: var(--card); }
header h1 { font-size: 16px; margin: 0; }
main { display: grid; grid-template-columns: minmax(260px, 340px) 1fr; gap: 12px; padding: 12px; }
@media (max-width: 760px) { main { grid-template-columns: 1fr; } }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; margin-bottom: 12px; }
section h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 0 0 8px; }
label { display: block; margin: 6px 0 2px; color: var(--muted); font-size: 12px; }
label.inline { display: inline-flex; align-items: center; gap: 4px; margin-right: 10px; color: var(--fg); font-size: 13px; }
input[type=text], input[type=password], textarea, select { width: 100%; padding: 5px 7px; border: 1px solid var(--line); border-radius: 5px; background: transparent; color: inherit; font: inherit; }
textarea { font-family: ui-monospace, monospace; font-size: 12px; resize: vertical; }
button { padding: 5px 10px; border: 1px solid var(--line); border-radius: 5px; background: var(--card); color: inherit; font: inherit; cursor: pointer; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button:disabled { opacity: .5; cursor: default; }
.row { display: flex; gap: 6px; align-items: center; margin-top: 8px; flex-wrap: wrap; }
.row > input[type=text] { flex: 1; width: auto; }
.pill { padding: 2px 8px; border-radius: 999px; border: 1px solid var(--line); font-size: 12px; }
.pill[data-state=authenticated], .pill[data-state=owner], .pill[data-state=member] { border-color: var(--ok); color: var(--ok); }
.pill[data-state=failed], .pill[data-state=rejected], .pill[data-state=closed] { border-color: var(--bad); color: var(--bad); }
.pill[data-state=connected], .pill[data-state=resumed] { border-color: var(--ok); color: var(--ok); }
.pill[data-state=connecting], .pill[data-state=reconnecting], .pill[data-state=restarted] { border-color: var(--warn); color: var(--warn); }
.muted { color: var(--muted); }
code, .mono { font-family: ui-monospace, monospace; font-size: 12px; }
ul { list-style: none; margin: 0; padding: 0; }
#requests:empty::before { content: 'none pending'; color: var(--muted); font-size: 12px; }
#requests li { display: flex; gap: 6px; align-items: center; padding: 4px 0; border-top: 1px solid var(--line); }
#requests li span { flex: 1; overflow: hidden; text-overflow: ellipsis; }
#tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 8px; }
.tile { border: 1px solid var(--line); border-radius: 6px; overflow: hidden; }
.tile video { display: block; width: 100%; aspect-ratio: 4 / 3; background: #000; object-fit: cover; }
.tile .caption { padding: 4px 6px; font-size: 12px; display: flex; justify-content: space-between; gap: 6px; }
.tile[data-channel=open] .dc { color: var(--ok); }
.log { height: 160px; overflow-y: auto; border: 1px solid var(--line); border-radius: 5px; padding: 4px 6px; font-size: 13px; }
.log li { padding: 1px 0; word-break: break-word; }
.log li .who { color: var(--muted); margin-right: 6px; font-family: ui-monospace, monospace; font-size: 12px; }
.log li.sent .who { color: var(--accent); }
#notices { height: 140px; font-size: 12px; }
`;
