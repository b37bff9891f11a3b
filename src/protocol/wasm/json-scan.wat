;; The relay's JSON scanner (json-scan.ts): validates one text frame as JSON.parse would and
;; records where the members of its top-level object, and of that object's object values,
;; are, without building anything. The relay routes a 4 KB session description on those
;; spans and forwards its bytes; in JavaScript the scan was most of a relay's cost (about
;; 3 ns a byte, more with typed-array reads once uWS has detached a buffer).
;;
;; The caller copies the frame to INPUT and calls scan(length, maxDepth). The answer:
;;   -1 not JSON (or not an object, or nested deeper than maxDepth);
;;   -2 more than MAX_RECORDS members to record (the caller takes its generic path);
;;   otherwise the number of records, plus 0x10000 when a string held a byte of 0x80 or
;;   more (only strings may: the caller then checks the frame is UTF-8).
;; Each record is five i32 at RECORDS: the index of its parent record (-1 for a member of the
;; top-level object), the member's key span [start, end) quotes included, and its value's
;; span, as offsets into the frame.
;;
;; Built into json-scan.wasm.ts by `npm run build:wasm` (wabt); a unit test checks that the
;; committed bytes are this file's.
(module
  (memory (export "memory") 1)

  ;; Bytes 0-255: a class per byte value. 1: may follow a backslash on its own
  ;; (" / \ b f n r t), 2: hex digit, 4: u (a \u escape), 8: JSON whitespace, 16: digit.
  (data (i32.const 9) "\08\08")             ;; \t \n
  (data (i32.const 13) "\08")               ;; \r
  (data (i32.const 32) "\08")               ;; space
  (data (i32.const 34) "\01")               ;; "
  (data (i32.const 47) "\01")               ;; /
  (data (i32.const 48) "\12\12\12\12\12\12\12\12\12\12") ;; 0-9: hex digit and digit
  (data (i32.const 65) "\02\02\02\02\02\02") ;; A-F
  (data (i32.const 92) "\01")               ;; backslash
  (data (i32.const 97) "\02\03\02\02\02\03") ;; a-f (b and f are escapes too)
  (data (i32.const 110) "\01")              ;; n
  (data (i32.const 114) "\01")              ;; r
  (data (i32.const 116) "\01\04")           ;; t u

  (global $STACK i32 (i32.const 256))    ;; one byte per open container: 1 object, 2 array (256 levels)
  (global $RECORDS i32 (i32.const 512))  ;; MAX_RECORDS x 20 bytes
  (global $MAX_RECORDS i32 (i32.const 64))
  (global $INPUT (export "INPUT") i32 (i32.const 2048))
  ;; After the frame: 64 quotes, so a search for a closing quote (64 bytes per step) always
  ;; ends, and every read past the end sees a byte that is neither whitespace, a digit, a
  ;; letter nor a separator.
  (global $PADDING (export "PADDING") i32 (i32.const 64))

  ;; Set when a string held a byte of 0x80 or more.
  (global $high (mut i32) (i32.const 0))

  ;; The first byte from $at on that is not JSON whitespace. The scan's loop tests the byte
  ;; at $at before it calls this: frames are mostly written without whitespace.
  (func $skipSpace (param $at i32) (result i32)
    (block $done
      (loop $bytes
        (br_if $done (i32.eqz (i32.and (i32.load8_u (i32.load8_u (local.get $at))) (i32.const 8))))
        (local.set $at (i32.add (local.get $at) (i32.const 1)))
        (br $bytes)))
    (local.get $at))

  ;; True when the four bytes after a \u at $at (the u) are hex digits before $end.
  (func $hexEscape (param $at i32) (param $end i32) (result i32)
    (if (i32.gt_u (i32.add (local.get $at) (i32.const 5)) (local.get $end)) (then (return (i32.const 0))))
    (i32.ne (i32.const 0) (i32.and (i32.const 2) (i32.and
      (i32.and (i32.load8_u (i32.load8_u (i32.add (local.get $at) (i32.const 1)))) (i32.load8_u (i32.load8_u (i32.add (local.get $at) (i32.const 2)))))
      (i32.and (i32.load8_u (i32.load8_u (i32.add (local.get $at) (i32.const 3)))) (i32.load8_u (i32.load8_u (i32.add (local.get $at) (i32.const 4)))))))))

  ;; End of the escape whose backslash is at $at, within [.., $end), or -1 when the byte after
  ;; it is not one JSON allows there (the byte by byte checks; a 64-byte chunk checks its own).
  (func $endOfEscape (param $at i32) (param $end i32) (result i32)
    (local $class i32)
    (if (i32.ge_u (i32.add (local.get $at) (i32.const 1)) (local.get $end)) (then (return (i32.const -1))))
    (local.set $class (i32.load8_u (i32.load8_u (i32.add (local.get $at) (i32.const 1)))))
    (if (i32.and (local.get $class) (i32.const 1)) (then (return (i32.add (local.get $at) (i32.const 2)))))
    (if (i32.eqz (i32.and (local.get $class) (i32.const 4))) (then (return (i32.const -1))))
    (if (i32.eqz (call $hexEscape (i32.add (local.get $at) (i32.const 1)) (local.get $end))) (then (return (i32.const -1))))
    (i32.add (local.get $at) (i32.const 6)))

  ;; 1 when [$start, $end) is valid string content: no raw control character (below 0x20),
  ;; only the escapes \" \\ \/ \b \f \n \r \t \uXXXX. 64 bytes per step with SIMD, the rest
  ;; byte by byte.
  (func $checkContent (param $start i32) (param $end i32) (result i32)
    (local $at i32) (local $position i32) (local $class i32) (local $byte i32)
    (local $backslashVector v128) (local $spaceVector v128)
    (local $a v128) (local $b v128) (local $c v128) (local $d v128) (local $seen v128)
    (local $backslashes i64) (local $starters i64) (local $codes i64) (local $escaped i64) (local $carry i64)
    (local.set $at (local.get $start))
    (local.set $backslashVector (i8x16.splat (i32.const 0x5c)))
    (local.set $spaceVector (i8x16.splat (i32.const 0x20)))
    (block $chunksDone
      (loop $chunks
        (br_if $chunksDone (i32.gt_u (i32.add (local.get $at) (i32.const 64)) (local.get $end)))
        (local.set $a (v128.load (local.get $at)))
        (local.set $b (v128.load offset=16 (local.get $at)))
        (local.set $c (v128.load offset=32 (local.get $at)))
        (local.set $d (v128.load offset=48 (local.get $at)))
        (local.set $seen (v128.or (local.get $seen)
          (v128.or (v128.or (local.get $a) (local.get $b)) (v128.or (local.get $c) (local.get $d)))))
        ;; A raw control character is never valid, escaped or not.
        (if (v128.any_true (i8x16.lt_u
              (i8x16.min_u (i8x16.min_u (local.get $a) (local.get $b)) (i8x16.min_u (local.get $c) (local.get $d)))
              (local.get $spaceVector)))
          (then (return (i32.const 0))))
        ;; One bit per byte of the chunk that is a backslash, lowest address lowest.
        (local.set $backslashes (i64.or
          (i64.or
            (i64.extend_i32_u (i8x16.bitmask (i8x16.eq (local.get $a) (local.get $backslashVector))))
            (i64.shl (i64.extend_i32_u (i8x16.bitmask (i8x16.eq (local.get $b) (local.get $backslashVector)))) (i64.const 16)))
          (i64.or
            (i64.shl (i64.extend_i32_u (i8x16.bitmask (i8x16.eq (local.get $c) (local.get $backslashVector)))) (i64.const 32))
            (i64.shl (i64.extend_i32_u (i8x16.bitmask (i8x16.eq (local.get $d) (local.get $backslashVector)))) (i64.const 48)))))
        (if (i64.ne (i64.or (local.get $backslashes) (local.get $carry)) (i64.const 0))
          (then
            ;; Which bytes are escaped, for every run of backslashes at once (the carry-subtract
            ;; technique of simdjson's escape scanner): a backslash escapes the next byte unless
            ;; it is itself escaped; $carry is 1 when the previous chunk's last byte escapes this
            ;; chunk's first.
            (local.set $starters (i64.and (local.get $backslashes) (i64.xor (local.get $carry) (i64.const -1))))
            (local.set $codes (i64.xor
              (i64.sub (i64.or (i64.shl (local.get $starters) (i64.const 1)) (i64.const 0xAAAAAAAAAAAAAAAA)) (local.get $starters))
              (i64.const 0xAAAAAAAAAAAAAAAA)))
            (local.set $escaped (i64.xor (local.get $codes) (i64.or (local.get $backslashes) (local.get $carry))))
            (local.set $carry (i64.shr_u (i64.and (local.get $codes) (local.get $backslashes)) (i64.const 63)))
            ;; Each escaped byte must be one JSON allows after a backslash.
            (block $checked
              (loop $each
                (br_if $checked (i64.eqz (local.get $escaped)))
                (local.set $position (i32.add (local.get $at) (i32.wrap_i64 (i64.ctz (local.get $escaped)))))
                (local.set $escaped (i64.and (local.get $escaped) (i64.sub (local.get $escaped) (i64.const 1))))
                (local.set $class (i32.load8_u (i32.load8_u (local.get $position))))
                (if (i32.eqz (i32.and (local.get $class) (i32.const 5))) (then (return (i32.const 0))))
                (if (i32.and (local.get $class) (i32.const 4))
                  (then (if (i32.eqz (call $hexEscape (local.get $position) (local.get $end))) (then (return (i32.const 0))))))
                (br $each)))))
        (local.set $at (i32.add (local.get $at) (i32.const 64)))
        (br $chunks)))
    (if (i8x16.bitmask (local.get $seen)) (then (global.set $high (i32.const 1))))
    ;; The last chunk's final backslash escapes the first byte after it.
    (if (i64.ne (local.get $carry) (i64.const 0))
      (then
        (if (i32.ge_u (local.get $at) (local.get $end)) (then (return (i32.const 0))))
        (local.set $class (i32.load8_u (i32.load8_u (local.get $at))))
        (if (i32.eqz (i32.and (local.get $class) (i32.const 5))) (then (return (i32.const 0))))
        (if (i32.and (local.get $class) (i32.const 4))
          (then
            (if (i32.eqz (call $hexEscape (local.get $at) (local.get $end))) (then (return (i32.const 0))))
            (local.set $at (i32.add (local.get $at) (i32.const 4)))))
        (local.set $at (i32.add (local.get $at) (i32.const 1)))))
    ;; The rest, byte by byte.
    (block $done
      (loop $bytes
        (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
        (local.set $byte (i32.load8_u (local.get $at)))
        (if (i32.lt_u (local.get $byte) (i32.const 0x20)) (then (return (i32.const 0))))
        (if (i32.eq (local.get $byte) (i32.const 0x5c))
          (then
            (local.set $at (call $endOfEscape (local.get $at) (local.get $end)))
            (if (i32.lt_s (local.get $at) (i32.const 0)) (then (return (i32.const 0))))
            (br $bytes)))
        (if (i32.ge_u (local.get $byte) (i32.const 0x80)) (then (global.set $high (i32.const 1))))
        (local.set $at (i32.add (local.get $at) (i32.const 1)))
        (br $bytes)))
    (i32.const 1))

  ;; End (past the closing quote) of the string whose opening quote is at $at, or -1. Keys,
  ;; names and ids are short: 16 bytes at a time, a string whose closing quote comes before
  ;; any backslash or control character ends there. One with either goes byte by byte, its
  ;; bytes checked as the end is looked for. A string still open after 32 bytes (an ICE
  ;; candidate, an SDP) goes on in $endOfLongString.
  (func $endOfString (param $at i32) (param $end i32) (result i32)
    (local $index i32) (local $short i32) (local $byte i32) (local $block v128)
    (local $quotes i32) (local $stops i32) (local $before i32)
    (local.set $index (i32.add (local.get $at) (i32.const 1)))
    (local.set $short (i32.add (local.get $index) (i32.const 32)))
    ;; The padding after the frame is quotes, so a 16-byte read from inside it stays in memory.
    (block $slow
      (loop $blocks
        (br_if $slow (i32.ge_u (local.get $index) (local.get $short)))
        (local.set $block (v128.load (local.get $index)))
        ;; Bit 16 set: "no quote in these 16 bytes" counts as one just past them.
        (local.set $quotes (i32.or (i32.const 0x10000)
          (i8x16.bitmask (i8x16.eq (local.get $block) (i8x16.splat (i32.const 0x22))))))
        (local.set $stops (i32.or
          (i8x16.bitmask (i8x16.eq (local.get $block) (i8x16.splat (i32.const 0x5c))))
          (i8x16.bitmask (i8x16.lt_u (local.get $block) (i8x16.splat (i32.const 0x20))))))
        ;; The bytes before the first quote.
        (local.set $before (i32.sub (i32.and (local.get $quotes) (i32.sub (i32.const 0) (local.get $quotes))) (i32.const 1)))
        (br_if $slow (i32.and (local.get $stops) (local.get $before)))
        (if (i32.and (i8x16.bitmask (local.get $block)) (local.get $before)) (then (global.set $high (i32.const 1))))
        (if (i32.ne (local.get $quotes) (i32.const 0x10000))
          (then
            (local.set $index (i32.add (local.get $index) (i32.ctz (local.get $quotes))))
            (if (i32.ge_u (local.get $index) (local.get $end)) (then (return (i32.const -1))))
            (return (i32.add (local.get $index) (i32.const 1)))))
        (local.set $index (i32.add (local.get $index) (i32.const 16)))
        (br $blocks)))
    (block $long
      (loop $bytes
        (br_if $long (i32.ge_u (local.get $index) (local.get $short)))
        (local.set $byte (i32.load8_u (local.get $index)))
        (if (i32.eq (local.get $byte) (i32.const 0x22))
          (then
            (if (i32.ge_u (local.get $index) (local.get $end)) (then (return (i32.const -1))))
            (return (i32.add (local.get $index) (i32.const 1)))))
        (if (i32.lt_u (local.get $byte) (i32.const 0x20)) (then (return (i32.const -1))))
        (if (i32.eq (local.get $byte) (i32.const 0x5c))
          (then
            (local.set $index (call $endOfEscape (local.get $index) (local.get $end)))
            (if (i32.lt_s (local.get $index) (i32.const 0)) (then (return (i32.const -1))))
            (br $bytes)))
        (if (i32.ge_u (local.get $byte) (i32.const 0x80)) (then (global.set $high (i32.const 1))))
        (local.set $index (i32.add (local.get $index) (i32.const 1)))
        (br $bytes)))
    ;; Valid up to $index, which is past an escape or a plain byte (an escape boundary).
    (call $endOfLongString (local.get $at) (local.get $index) (local.get $end)))

  ;; The rest of a long string, valid up to $from (an escape boundary): its closing quote is
  ;; found 64 bytes per step (a quote after an odd run of backslashes is escaped: search on; a
  ;; run that began before $from is whole escapes there, so its parity still tells), then
  ;; [$from, quote) is checked in one pass by $checkContent.
  (func $endOfLongString (param $at i32) (param $from i32) (param $end i32) (result i32)
    (local $search i32) (local $quote i32) (local $mask i64) (local $before i32) (local $quoteVector v128)
    (local.set $quoteVector (i8x16.splat (i32.const 0x22)))
    (local.set $search (local.get $from))
    (loop $quotes
      ;; The next quote (the padding's quotes stop the search).
      (block $found
        (loop $chunks
          (local.set $mask (i64.or
            (i64.or
              (i64.extend_i32_u (i8x16.bitmask (i8x16.eq (v128.load (local.get $search)) (local.get $quoteVector))))
              (i64.shl (i64.extend_i32_u (i8x16.bitmask (i8x16.eq (v128.load offset=16 (local.get $search)) (local.get $quoteVector)))) (i64.const 16)))
            (i64.or
              (i64.shl (i64.extend_i32_u (i8x16.bitmask (i8x16.eq (v128.load offset=32 (local.get $search)) (local.get $quoteVector)))) (i64.const 32))
              (i64.shl (i64.extend_i32_u (i8x16.bitmask (i8x16.eq (v128.load offset=48 (local.get $search)) (local.get $quoteVector)))) (i64.const 48)))))
          (br_if $found (i64.ne (local.get $mask) (i64.const 0)))
          (local.set $search (i32.add (local.get $search) (i32.const 64)))
          (br $chunks)))
      (local.set $quote (i32.add (local.get $search) (i32.wrap_i64 (i64.ctz (local.get $mask)))))
      (if (i32.ge_u (local.get $quote) (local.get $end)) (then (return (i32.const -1))))
      (local.set $before (i32.sub (local.get $quote) (i32.const 1)))
      (block $counted
        (loop $run
          (br_if $counted (i32.le_u (local.get $before) (local.get $at)))
          (br_if $counted (i32.ne (i32.load8_u (local.get $before)) (i32.const 0x5c)))
          (local.set $before (i32.sub (local.get $before) (i32.const 1)))
          (br $run)))
      (if (i32.and (i32.sub (local.get $quote) (local.get $before)) (i32.const 1))
        (then
          (if (i32.eqz (call $checkContent (local.get $from) (local.get $quote))) (then (return (i32.const -1))))
          (return (i32.add (local.get $quote) (i32.const 1)))))
      (local.set $search (i32.add (local.get $quote) (i32.const 1)))
      (br $quotes))
    (unreachable))

  ;; End of the number at $at, or -1 (JSON's grammar: no leading zeros, digits on both sides of a point).
  (func $endOfNumber (param $at i32) (result i32)
    (local $digits i32) (local $byte i32)
    (if (i32.eq (i32.load8_u (local.get $at)) (i32.const 0x2d)) (then (local.set $at (i32.add (local.get $at) (i32.const 1)))))
    (local.set $digits (local.get $at))
    (local.set $at (call $skipDigits (local.get $at)))
    (if (i32.eq (local.get $at) (local.get $digits)) (then (return (i32.const -1))))
    (if (i32.and (i32.eq (i32.load8_u (local.get $digits)) (i32.const 0x30)) (i32.gt_u (i32.sub (local.get $at) (local.get $digits)) (i32.const 1)))
      (then (return (i32.const -1))))
    (if (i32.eq (i32.load8_u (local.get $at)) (i32.const 0x2e))
      (then
        (local.set $digits (i32.add (local.get $at) (i32.const 1)))
        (local.set $at (call $skipDigits (local.get $digits)))
        (if (i32.eq (local.get $at) (local.get $digits)) (then (return (i32.const -1))))))
    (if (i32.eq (i32.or (i32.load8_u (local.get $at)) (i32.const 0x20)) (i32.const 0x65))
      (then
        (local.set $at (i32.add (local.get $at) (i32.const 1)))
        (local.set $byte (i32.load8_u (local.get $at)))
        (if (i32.or (i32.eq (local.get $byte) (i32.const 0x2b)) (i32.eq (local.get $byte) (i32.const 0x2d)))
          (then (local.set $at (i32.add (local.get $at) (i32.const 1)))))
        (local.set $digits (local.get $at))
        (local.set $at (call $skipDigits (local.get $at)))
        (if (i32.eq (local.get $at) (local.get $digits)) (then (return (i32.const -1))))))
    (local.get $at))

  (func $skipDigits (param $at i32) (result i32)
    (block $done
      (loop $bytes
        (br_if $done (i32.eqz (i32.and (i32.load8_u (i32.load8_u (local.get $at))) (i32.const 16))))
        (local.set $at (i32.add (local.get $at) (i32.const 1)))
        (br $bytes)))
    (local.get $at))

  ;; Appends a record (parent, key span, value start) and answers its index, or -1 when full.
  (func $record (param $count i32) (param $parent i32) (param $keyStart i32) (param $keyEnd i32) (param $valueStart i32) (result i32)
    (local $at i32)
    (if (i32.ge_u (local.get $count) (global.get $MAX_RECORDS)) (then (return (i32.const -1))))
    (local.set $at (i32.add (global.get $RECORDS) (i32.mul (local.get $count) (i32.const 20))))
    (i32.store (local.get $at) (local.get $parent))
    (i32.store offset=4 (local.get $at) (i32.sub (local.get $keyStart) (global.get $INPUT)))
    (i32.store offset=8 (local.get $at) (i32.sub (local.get $keyEnd) (global.get $INPUT)))
    (i32.store offset=12 (local.get $at) (i32.sub (local.get $valueStart) (global.get $INPUT)))
    (i32.store offset=16 (local.get $at) (i32.const 0))
    (local.get $count))

  (func $setValueEnd (param $record i32) (param $valueEnd i32)
    (i32.store offset=16 (i32.add (global.get $RECORDS) (i32.mul (local.get $record) (i32.const 20)))
      (i32.sub (local.get $valueEnd) (global.get $INPUT))))

  (func (export "scan") (param $length i32) (param $maxDepth i32) (result i32)
    ;; $state: 0 a value is next, 1 a key is next, 2 a value has just ended.
    (local $end i32) (local $at i32) (local $depth i32) (local $state i32) (local $byte i32)
    (local $count i32) (local $member1 i32) (local $member2 i32) (local $keyStart i32) (local $keyEnd i32)
    (local $container i32)
    (local.set $end (i32.add (global.get $INPUT) (local.get $length)))
    (memory.fill (local.get $end) (i32.const 0x22) (global.get $PADDING))
    (global.set $high (i32.const 0))
    (if (i32.gt_u (local.get $maxDepth) (i32.const 256)) (then (local.set $maxDepth (i32.const 256))))
    (local.set $at (call $skipSpace (global.get $INPUT)))
    (if (i32.ne (i32.load8_u (local.get $at)) (i32.const 0x7b)) (then (return (i32.const -1))))
    (loop $run
      (block $afterValue
        (block $key
          (block $value
            (br_table $value $key $afterValue (local.get $state)))
          ;; ---- a value
          (local.set $byte (i32.load8_u (local.get $at)))
          (local.set $state (i32.const 2))
          (if (i32.eq (local.get $byte) (i32.const 0x22))
            (then
              (local.set $at (call $endOfString (local.get $at) (local.get $end)))
              (if (i32.lt_s (local.get $at) (i32.const 0)) (then (return (i32.const -1))))
              (br $run)))
          ;; { and [ (their closers are two bytes on: } and ])
          (if (i32.eq (i32.and (local.get $byte) (i32.const 0xdf)) (i32.const 0x5b))
            (then
              (if (i32.ge_u (local.get $depth) (local.get $maxDepth)) (then (return (i32.const -1))))
              (local.set $container (select (i32.const 1) (i32.const 2) (i32.eq (local.get $byte) (i32.const 0x7b))))
              (i32.store8 (i32.add (global.get $STACK) (local.get $depth)) (local.get $container))
              (local.set $depth (i32.add (local.get $depth) (i32.const 1)))
              (local.set $at (i32.add (local.get $at) (i32.const 1)))
              (if (i32.and (i32.load8_u (i32.load8_u (local.get $at))) (i32.const 8)) (then (local.set $at (call $skipSpace (local.get $at)))))
              (if (i32.eq (i32.load8_u (local.get $at)) (i32.add (local.get $byte) (i32.const 2)))
                (then
                  (local.set $depth (i32.sub (local.get $depth) (i32.const 1)))
                  (local.set $at (i32.add (local.get $at) (i32.const 1)))
                  (br $run)))
              (local.set $state (select (i32.const 1) (i32.const 0) (i32.eq (local.get $container) (i32.const 1))))
              (br $run)))
          (if (i32.eq (local.get $byte) (i32.const 0x74)) ;; true
            (then
              (if (i32.ne (i32.load (local.get $at)) (i32.const 0x65757274)) (then (return (i32.const -1))))
              (local.set $at (i32.add (local.get $at) (i32.const 4)))
              (br $run)))
          (if (i32.eq (local.get $byte) (i32.const 0x6e)) ;; null
            (then
              (if (i32.ne (i32.load (local.get $at)) (i32.const 0x6c6c756e)) (then (return (i32.const -1))))
              (local.set $at (i32.add (local.get $at) (i32.const 4)))
              (br $run)))
          (if (i32.eq (local.get $byte) (i32.const 0x66)) ;; false
            (then
              (if (i32.ne (i32.load offset=1 (local.get $at)) (i32.const 0x65736c61)) (then (return (i32.const -1))))
              (local.set $at (i32.add (local.get $at) (i32.const 5)))
              (br $run)))
          (if (i32.or (i32.eq (local.get $byte) (i32.const 0x2d)) (i32.and (i32.load8_u (i32.load8_u (local.get $at))) (i32.const 16)))
            (then
              (local.set $at (call $endOfNumber (local.get $at)))
              (if (i32.lt_s (local.get $at) (i32.const 0)) (then (return (i32.const -1))))
              (br $run)))
          (return (i32.const -1)))
        ;; ---- a key, then its colon; members of the top-level object and of its object values are recorded
        (if (i32.ne (i32.load8_u (local.get $at)) (i32.const 0x22)) (then (return (i32.const -1))))
        (local.set $keyStart (local.get $at))
        (local.set $keyEnd (call $endOfString (local.get $at) (local.get $end)))
        (if (i32.lt_s (local.get $keyEnd) (i32.const 0)) (then (return (i32.const -1))))
        (local.set $at (local.get $keyEnd))
        (if (i32.and (i32.load8_u (i32.load8_u (local.get $at))) (i32.const 8)) (then (local.set $at (call $skipSpace (local.get $at)))))
        (if (i32.ne (i32.load8_u (local.get $at)) (i32.const 0x3a)) (then (return (i32.const -1))))
        (local.set $at (i32.add (local.get $at) (i32.const 1)))
        (if (i32.and (i32.load8_u (i32.load8_u (local.get $at))) (i32.const 8)) (then (local.set $at (call $skipSpace (local.get $at)))))
        (if (i32.eq (local.get $depth) (i32.const 1))
          (then
            (local.set $member1 (call $record (local.get $count) (i32.const -1) (local.get $keyStart) (local.get $keyEnd) (local.get $at)))
            (if (i32.lt_s (local.get $member1) (i32.const 0)) (then (return (i32.const -2))))
            (local.set $count (i32.add (local.get $count) (i32.const 1)))))
        (if (i32.eq (local.get $depth) (i32.const 2))
          (then
            (local.set $member2 (call $record (local.get $count) (local.get $member1) (local.get $keyStart) (local.get $keyEnd) (local.get $at)))
            (if (i32.lt_s (local.get $member2) (i32.const 0)) (then (return (i32.const -2))))
            (local.set $count (i32.add (local.get $count) (i32.const 1)))))
        (local.set $state (i32.const 0))
        (br $run))
      ;; ---- after a value: the member it ends (when recorded), then a comma or the container's close
      (if (i32.eqz (local.get $depth))
        (then
          (if (i32.ne (call $skipSpace (local.get $at)) (local.get $end)) (then (return (i32.const -1))))
          (return (i32.or (local.get $count) (i32.shl (global.get $high) (i32.const 16))))))
      (local.set $container (i32.load8_u (i32.add (global.get $STACK) (i32.sub (local.get $depth) (i32.const 1)))))
      (if (i32.eq (local.get $depth) (i32.const 1)) (then (call $setValueEnd (local.get $member1) (local.get $at))))
      (if (i32.and (i32.eq (local.get $depth) (i32.const 2)) (i32.eq (local.get $container) (i32.const 1)))
        (then (call $setValueEnd (local.get $member2) (local.get $at))))
        (if (i32.and (i32.load8_u (i32.load8_u (local.get $at))) (i32.const 8)) (then (local.set $at (call $skipSpace (local.get $at)))))
      (local.set $byte (i32.load8_u (local.get $at)))
      (if (i32.eq (local.get $byte) (i32.const 0x2c))
        (then
          (local.set $at (i32.add (local.get $at) (i32.const 1)))
          (if (i32.and (i32.load8_u (i32.load8_u (local.get $at))) (i32.const 8)) (then (local.set $at (call $skipSpace (local.get $at)))))
          (local.set $state (select (i32.const 1) (i32.const 0) (i32.eq (local.get $container) (i32.const 1))))
          (br $run)))
      (if (i32.eq (local.get $byte) (select (i32.const 0x7d) (i32.const 0x5d) (i32.eq (local.get $container) (i32.const 1))))
        (then
          (local.set $depth (i32.sub (local.get $depth) (i32.const 1)))
          (local.set $at (i32.add (local.get $at) (i32.const 1)))
          (br $run)))
      (return (i32.const -1)))
    (unreachable))
)
