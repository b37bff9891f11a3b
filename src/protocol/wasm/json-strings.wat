;; Checks the contents of one JSON string (the bytes between its quotes) as JSON.parse would:
;; no raw control character (below 0x20) and only the escapes \" \\ \/ \b \f \n \r \t \uXXXX.
;; The relay forwards the bytes of a 4 KB session description without decoding them, so it
;; must know they are valid; in JavaScript this check was most of a 4 KB relay's cost
;; (3.7-6 µs), with SIMD it is about 0.5 µs.
;;
;; The caller copies the contents to CONTENT (256) and calls checkContent(length), which
;; answers 0 (not valid), 1 (valid, all ASCII) or 3 (valid, a byte of 0x80 or more: the
;; caller checks the frame is UTF-8).
;;
;; Built into json-strings.wasm.ts by `npm run build:wasm` (wabt); a unit test checks that
;; the committed bytes are this file's.
(module
  (memory (export "memory") 1)

  ;; Bytes 0-255: a class per byte value. 1: may follow a backslash on its own
  ;; (" / \ b f n r t), 2: hex digit, 4: u (a \u escape).
  (data (i32.const 34) "\01")
  (data (i32.const 47) "\01")
  (data (i32.const 48) "\02\02\02\02\02\02\02\02\02\02")
  (data (i32.const 65) "\02\02\02\02\02\02")
  (data (i32.const 92) "\01")
  (data (i32.const 97) "\02\03\02\02\02\03")
  (data (i32.const 110) "\01")
  (data (i32.const 114) "\01")
  (data (i32.const 116) "\01\04")

  (global $CONTENT i32 (i32.const 256))

  (func (export "checkContent") (param $length i32) (result i32)
    (local $at i32) (local $end i32) (local $position i32) (local $class i32)
    (local $backslashVector v128) (local $spaceVector v128)
    (local $a v128) (local $b v128) (local $c v128) (local $d v128) (local $seen v128)
    (local $backslashes i64) (local $starters i64) (local $codes i64) (local $escaped i64)
    (local $carry i64)
    (local.set $at (global.get $CONTENT))
    (local.set $end (i32.add (global.get $CONTENT) (local.get $length)))
    ;; The last 64-byte chunk reads past the end: 'a' there is neither a control character
    ;; nor a backslash, and is not a valid escape (a backslash at the end fails on it).
    (memory.fill (local.get $end) (i32.const 0x61) (i32.const 64))
    (local.set $backslashVector (i8x16.splat (i32.const 0x5c)))
    (local.set $spaceVector (i8x16.splat (i32.const 0x20)))
    (block $done
      (loop $chunks
        (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
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
            ;; technique of simdjson's escape scanner): a backslash escapes the next byte unless it
            ;; is itself escaped; $carry is 1 when the previous chunk's last byte escapes this
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
                  (then
                    ;; \u needs four hex digits before the end.
                    (if (i32.gt_u (i32.add (local.get $position) (i32.const 5)) (local.get $end)) (then (return (i32.const 0))))
                    (if (i32.eqz (i32.and (i32.const 2) (i32.and
                          (i32.and (i32.load8_u (i32.load8_u offset=1 (local.get $position))) (i32.load8_u (i32.load8_u offset=2 (local.get $position))))
                          (i32.and (i32.load8_u (i32.load8_u offset=3 (local.get $position))) (i32.load8_u (i32.load8_u offset=4 (local.get $position)))))))
                      (then (return (i32.const 0))))))
                (br $each)))))
        (local.set $at (i32.add (local.get $at) (i32.const 64)))
        (br $chunks)))
    ;; A backslash that ends the last chunk, at the very end, would escape the closing quote.
    (if (i64.ne (local.get $carry) (i64.const 0)) (then (return (i32.const 0))))
    (if (result i32) (i8x16.bitmask (local.get $seen)) (then (i32.const 3)) (else (i32.const 1))))
)
