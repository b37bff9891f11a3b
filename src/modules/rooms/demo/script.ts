import { DEMO_SCRIPT_CALLS } from './script-calls.js';
import { DEMO_SCRIPT_ROOMS } from './script-rooms.js';
import { DEMO_SCRIPT_SESSION } from './script-session.js';
import { DEMO_SCRIPT_UI } from './script-ui.js';

/**
 * The demo page's one inline script: a classic script, one function, assembled from four
 * pieces so that each file stays readable (ui: state and display; calls: WebRTC; rooms: room
 * requests and pushes; session: the SDK, its lifecycle and the wiring, last, because it runs
 * what the others define).
 *
 * Invariants of the script:
 * - Nothing received is ever parsed as HTML: it writes the DOM only through `textContent` and
 *   `createElement`, never `innerHTML`, so peer ids, room names, messages and error texts are
 *   always shown as text.
 * - Everything on the wire goes through the SDK (`request` for what has an answer, `send` for
 *   relays, `on` for pushes and the lifecycle); the script opens no socket of its own.
 * - Per peer, SDP and ICE are handled strictly in arrival order (one promise chain per peer),
 *   so a candidate is never added before the description it belongs to.
 *
 * The pieces are raw template strings: they must contain no backtick and no dollar-brace
 * sequence (test/unit/demo-page.test.ts compiles the whole to check).
 */
export const DEMO_SCRIPT = ['', '(function () {', "  'use strict';", DEMO_SCRIPT_UI, DEMO_SCRIPT_CALLS, DEMO_SCRIPT_ROOMS, DEMO_SCRIPT_SESSION, '})();', ''].join('\n');
