;; wat-notify-external-service: the notify-external-service executor written
;; by hand in WebAssembly text, against plugin ABI version 1.
;;
;; When an order record is created, it posts {"orderId": newRecord.id,
;; "amount": newRecord.total} to https://api.example.com/orders with the same
;; headers as the Go example: Content-Type, and Authorization and X-API-Key
;; read by the host from the api-keys vault. A record field that is absent is
;; left out of the body, as JSON.stringify leaves out undefined.
;;
;; Build: wat2wasm notify.wat -o notify.wasm
;;
;; Limits of the hand-written JSON scan, which the host's valid, compact
;; arguments never reach in practice:
;;   - It does not validate the arguments; it trusts the host to send one
;;     valid JSON object.
;;   - Keys are compared byte for byte, so a key spelt with an escape such
;;     as "\u0069d" does not match "id".
;;   - Only the top-level members of the arguments and of newRecord are
;;     searched. With duplicate keys the last one wins, as in JSON.parse.
;;   - Values are copied as raw JSON text, never decoded, so numbers keep
;;     their exact digits.
;;
;; Memory layout: page 0 holds constant data, the argument buffer starts at
;; 65536 (page 1), and each result is written just after that buffer, which
;; stays reserved for the host until the next execvault_alloc call.
(module
  (memory (export "memory") 2)

  ;; The manifest: 546 bytes at 1024.
  (data (i32.const 1024)
    "{\22abiVersion\22:1,\22sdk\22:\22execvault-wat/1\22,\22executors\22:[{"
    "\22name\22:\22wat-notify-external-service\22,"
    "\22description\22:\22Notify an external service of new orders (WebAssembly text port)\22,"
    "\22trigger\22:{\22kind\22:\22record\22,\22typeName\22:\22order\22,\22events\22:[\22created\22]},"
    "\22operation\22:{\22kind\22:\22webhook\22,\22url\22:\22https://api.example.com/orders\22,"
    "\22headers\22:["
    "{\22name\22:\22Content-Type\22,\22value\22:\22application/json\22},"
    "{\22name\22:\22Authorization\22,\22secret\22:{\22vault\22:\22api-keys\22,\22key\22:\22external-api-token\22}},"
    "{\22name\22:\22X-API-Key\22,\22secret\22:{\22vault\22:\22api-keys\22,\22key\22:\22api-secret\22}}"
    "],\22requestBody\22:true}}]}")

  ;; Keys searched for, and the body's key prefixes.
  (data (i32.const 4096) "newRecord")     ;; 9 bytes
  (data (i32.const 4112) "id")            ;; 2 bytes
  (data (i32.const 4120) "total")         ;; 5 bytes
  (data (i32.const 4128) "\22orderId\22:") ;; 10 bytes
  (data (i32.const 4144) "\22amount\22:")  ;; 9 bytes

  ;; Error results: status byte 0x02 and a message.
  (data (i32.const 4224) "\02wat-notify-external-service: no executor with this index; the module has one executor, index 0") ;; 95 bytes
  (data (i32.const 4352) "\02wat-notify-external-service: cannot grow memory for the result") ;; 63 bytes
  (data (i32.const 4480) "\02wat-notify-external-service: arguments lie outside the buffer from execvault_alloc") ;; 83 bytes

  ;; The end offset of the value that $find_member last found.
  (global $found_end (mut i32) (i32.const 0))

  ;; The size of the argument buffer that execvault_alloc last returned.
  (global $arg_size (mut i32) (i32.const 0))

  ;; $pack returns (ptr << 32) | len, the ABI's buffer encoding.
  (func $pack (param $ptr i32) (param $len i32) (result i64)
    (i64.or
      (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32))
      (i64.extend_i32_u (local.get $len))))

  ;; $ensure grows memory until byte offset $end (exclusive) is addressable.
  ;; It returns 1 on success and 0 when memory cannot grow.
  (func $ensure (param $end i32) (result i32)
    (local $need i32)
    (local.set $need
      (i32.wrap_i64
        (i64.shr_u
          (i64.add (i64.extend_i32_u (local.get $end)) (i64.const 65535))
          (i64.const 16))))
    (if (i32.le_u (local.get $need) (memory.size))
      (then (return (i32.const 1))))
    (i32.ne
      (memory.grow (i32.sub (local.get $need) (memory.size)))
      (i32.const -1)))

  (func (export "execvault_alloc") (param $size i32) (result i32)
    (if (i32.lt_s (local.get $size) (i32.const 0))
      (then (return (i32.const 0))))
    (if (i32.eqz (call $ensure (i32.add (i32.const 65536) (local.get $size))))
      (then (return (i32.const 0))))
    (global.set $arg_size (local.get $size))
    (i32.const 65536))

  (func (export "execvault_manifest") (result i64)
    (call $pack (i32.const 1024) (i32.const 546)))

  ;; $is_space reports whether $c is JSON white space.
  (func $is_space (param $c i32) (result i32)
    (i32.or
      (i32.or (i32.eq (local.get $c) (i32.const 0x20)) (i32.eq (local.get $c) (i32.const 0x09)))
      (i32.or (i32.eq (local.get $c) (i32.const 0x0a)) (i32.eq (local.get $c) (i32.const 0x0d)))))

  (func $skip_space (param $p i32) (param $end i32) (result i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (br_if $done (i32.eqz (call $is_space (i32.load8_u (local.get $p)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (local.get $p))

  ;; $skip_string returns the offset past the string whose opening quote is
  ;; at $p. A backslash always skips the byte after it, which covers \" and
  ;; \\; the other escapes contain no quote.
  (func $skip_string (param $p i32) (param $end i32) (result i32)
    (local $c i32)
    (local.set $p (i32.add (local.get $p) (i32.const 1)))
    (loop $next
      (if (i32.ge_u (local.get $p) (local.get $end))
        (then (return (local.get $end))))
      (local.set $c (i32.load8_u (local.get $p)))
      (if (i32.eq (local.get $c) (i32.const 0x22)) ;; "
        (then (return (i32.add (local.get $p) (i32.const 1)))))
      (if (i32.eq (local.get $c) (i32.const 0x5c)) ;; \
        (then (local.set $p (i32.add (local.get $p) (i32.const 1)))))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $next))
    (local.get $end))

  ;; $skip_value returns the offset past the value that starts at $p: a
  ;; string, an object or array (by counting brackets outside strings), or
  ;; a number or literal (up to the next delimiter).
  (func $skip_value (param $p i32) (param $end i32) (result i32)
    (local $c i32)
    (local $depth i32)
    (if (i32.ge_u (local.get $p) (local.get $end))
      (then (return (local.get $end))))
    (local.set $c (i32.load8_u (local.get $p)))

    (if (i32.eq (local.get $c) (i32.const 0x22))
      (then (return (call $skip_string (local.get $p) (local.get $end)))))

    (if (i32.or (i32.eq (local.get $c) (i32.const 0x7b)) (i32.eq (local.get $c) (i32.const 0x5b))) ;; { [
      (then
        (loop $next
          (if (i32.ge_u (local.get $p) (local.get $end))
            (then (return (local.get $end))))
          (local.set $c (i32.load8_u (local.get $p)))
          (if (i32.eq (local.get $c) (i32.const 0x22))
            (then
              (local.set $p (call $skip_string (local.get $p) (local.get $end)))
              (br $next)))
          (if (i32.or (i32.eq (local.get $c) (i32.const 0x7b)) (i32.eq (local.get $c) (i32.const 0x5b)))
            (then (local.set $depth (i32.add (local.get $depth) (i32.const 1)))))
          (if (i32.or (i32.eq (local.get $c) (i32.const 0x7d)) (i32.eq (local.get $c) (i32.const 0x5d))) ;; } ]
            (then (local.set $depth (i32.sub (local.get $depth) (i32.const 1)))))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (br_if $next (i32.gt_s (local.get $depth) (i32.const 0))))
        (return (local.get $p))))

    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $c (i32.load8_u (local.get $p)))
        (br_if $done (i32.eq (local.get $c) (i32.const 0x2c))) ;; ,
        (br_if $done (i32.eq (local.get $c) (i32.const 0x7d)))
        (br_if $done (i32.eq (local.get $c) (i32.const 0x5d)))
        (br_if $done (call $is_space (local.get $c)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (local.get $p))

  ;; $bytes_equal compares $n bytes at $a and $b.
  (func $bytes_equal (param $a i32) (param $b i32) (param $n i32) (result i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (if (i32.ne (i32.load8_u (local.get $a)) (i32.load8_u (local.get $b)))
          (then (return (i32.const 0))))
        (local.set $a (i32.add (local.get $a) (i32.const 1)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (i32.const 1))

  ;; $find_member searches the object whose '{' is at $obj for the key of
  ;; $klen bytes at $key. It returns the offset of the last matching value
  ;; and sets $found_end past it, or returns -1.
  (func $find_member (param $obj i32) (param $end i32) (param $key i32) (param $klen i32) (result i32)
    (local $p i32)
    (local $key_start i32)
    (local $key_end i32)
    (local $val i32)
    (local $found i32)
    (local $found_end_local i32)
    (local.set $found (i32.const -1))
    (local.set $p (call $skip_space (i32.add (local.get $obj) (i32.const 1)) (local.get $end)))
    (block $done
      (loop $member
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (br_if $done (i32.ne (i32.load8_u (local.get $p)) (i32.const 0x22)))
        (local.set $key_start (i32.add (local.get $p) (i32.const 1)))
        (local.set $p (call $skip_string (local.get $p) (local.get $end)))
        (local.set $key_end (i32.sub (local.get $p) (i32.const 1)))

        (local.set $p (call $skip_space (local.get $p) (local.get $end)))
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (br_if $done (i32.ne (i32.load8_u (local.get $p)) (i32.const 0x3a))) ;; :
        (local.set $val (call $skip_space (i32.add (local.get $p) (i32.const 1)) (local.get $end)))
        (local.set $p (call $skip_value (local.get $val) (local.get $end)))

        (if (i32.eq (i32.sub (local.get $key_end) (local.get $key_start)) (local.get $klen))
          (then
            (if (call $bytes_equal (local.get $key_start) (local.get $key) (local.get $klen))
              (then
                (local.set $found (local.get $val))
                (local.set $found_end_local (local.get $p))))))

        (local.set $p (call $skip_space (local.get $p) (local.get $end)))
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (br_if $done (i32.ne (i32.load8_u (local.get $p)) (i32.const 0x2c)))
        (local.set $p (call $skip_space (i32.add (local.get $p) (i32.const 1)) (local.get $end)))
        (br $member)))
    (global.set $found_end (local.get $found_end_local))
    (local.get $found))

  ;; $copy copies $n bytes from $src to $dst and returns $dst + $n.
  (func $copy (param $dst i32) (param $src i32) (param $n i32) (result i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (i32.store8 (local.get $dst) (i32.load8_u (local.get $src)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 1)))
        (local.set $src (i32.add (local.get $src) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $dst))

  (func (export "execvault_fire") (param $executor i32) (param $ptr i32) (param $len i32) (result i64)
    (local $end i32)
    (local $res i32)
    (local $out i32)
    (local $p i32)
    (local $rec i32)
    (local $rec_end i32)
    (local $val i32)
    (local $wrote i32)

    (if (i32.ne (local.get $executor) (i32.const 0))
      (then (return (call $pack (i32.const 4224) (i32.const 95)))))

    ;; The arguments must lie inside the argument buffer. The sums are
    ;; computed in 64 bits so that they cannot wrap.
    (if (i32.or
          (i32.lt_u (local.get $ptr) (i32.const 65536))
          (i64.gt_u
            (i64.add (i64.extend_i32_u (local.get $ptr)) (i64.extend_i32_u (local.get $len)))
            (i64.add (i64.const 65536) (i64.extend_i32_u (global.get $arg_size)))))
      (then (return (call $pack (i32.const 4480) (i32.const 83)))))
    (local.set $end (i32.add (local.get $ptr) (local.get $len)))

    ;; The body holds at most the two copied values plus 26 bytes of keys
    ;; and punctuation, so the arguments' length plus 64 always suffices.
    (local.set $res (i32.and (i32.add (i32.add (i32.const 65536) (global.get $arg_size)) (i32.const 7)) (i32.const -8)))
    (if (i32.eqz (call $ensure (i32.add (i32.add (local.get $res) (local.get $len)) (i32.const 64))))
      (then (return (call $pack (i32.const 4352) (i32.const 63)))))

    ;; Status 0x01 (fire) and a URL length of 0: the URL is fixed.
    (i32.store8 (local.get $res) (i32.const 1))
    (i32.store8 offset=1 (local.get $res) (i32.const 0))
    (i32.store8 offset=2 (local.get $res) (i32.const 0))
    (i32.store8 offset=3 (local.get $res) (i32.const 0))
    (i32.store8 offset=4 (local.get $res) (i32.const 0))
    (local.set $out (i32.add (local.get $res) (i32.const 5)))
    (i32.store8 (local.get $out) (i32.const 0x7b)) ;; {
    (local.set $out (i32.add (local.get $out) (i32.const 1)))

    (local.set $rec (i32.const -1))
    (local.set $p (call $skip_space (local.get $ptr) (local.get $end)))
    (if (i32.lt_u (local.get $p) (local.get $end))
      (then
        (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 0x7b))
          (then
            (local.set $rec (call $find_member (local.get $p) (local.get $end) (i32.const 4096) (i32.const 9)))
            (local.set $rec_end (global.get $found_end))))))

    (if (i32.ge_s (local.get $rec) (i32.const 0))
      (then
        (if (i32.eq (i32.load8_u (local.get $rec)) (i32.const 0x7b))
          (then
            (local.set $val (call $find_member (local.get $rec) (local.get $rec_end) (i32.const 4112) (i32.const 2)))
            (if (i32.ge_s (local.get $val) (i32.const 0))
              (then
                (local.set $out (call $copy (local.get $out) (i32.const 4128) (i32.const 10)))
                (local.set $out (call $copy (local.get $out) (local.get $val)
                  (i32.sub (global.get $found_end) (local.get $val))))
                (local.set $wrote (i32.const 1))))

            (local.set $val (call $find_member (local.get $rec) (local.get $rec_end) (i32.const 4120) (i32.const 5)))
            (if (i32.ge_s (local.get $val) (i32.const 0))
              (then
                (if (local.get $wrote)
                  (then
                    (i32.store8 (local.get $out) (i32.const 0x2c))
                    (local.set $out (i32.add (local.get $out) (i32.const 1)))))
                (local.set $out (call $copy (local.get $out) (i32.const 4144) (i32.const 9)))
                (local.set $out (call $copy (local.get $out) (local.get $val)
                  (i32.sub (global.get $found_end) (local.get $val))))))))))

    (i32.store8 (local.get $out) (i32.const 0x7d)) ;; }
    (local.set $out (i32.add (local.get $out) (i32.const 1)))
    (call $pack (local.get $res) (i32.sub (local.get $out) (local.get $res))))
)
