;; bad-manifest-name.wat: the executor name "Bad_Name" breaks the name rule
;; (lowercase letters, digits and hyphens).
;; Everything else is a complete, well-behaved guest.
(module
  (memory (export "memory") 2)

  ;; The manifest: 231 bytes at 1024.
  (data (i32.const 1024) "{\22abiVersion\22:1,\22sdk\22:\22execvault-wat-test/1\22,\22executors\22:[{\22name\22:\22Bad_Name\22,\22trigger\22:{\22kind\22:\22record\22,\22typeName\22:\22order\22,\22events\22:[\22created\22]},\22operation\22:{\22kind\22:\22webhook\22,\22url\22:\22http://127.0.0.1:9/unused\22,\22requestBody\22:true}}]}")

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

  ;; The size of the argument buffer that execvault_alloc last returned.
  (global $arg_size (mut i32) (i32.const 0))

  ;; Arguments go at 65536 (page 1), the only buffer this guest hands out.
  (func (export "execvault_alloc") (param $size i32) (result i32)
    (if (i32.lt_s (local.get $size) (i32.const 0))
      (then (return (i32.const 0))))
    (if (i32.eqz (call $ensure (i32.add (i32.const 65536) (local.get $size))))
      (then (return (i32.const 0))))
    (global.set $arg_size (local.get $size))
    (i32.const 65536))

  (func (export "execvault_manifest") (result i64)
    (call $pack (i32.const 1024) (i32.const 231)))

  ;; A well-formed result: fire, fixed URL, body {}.
  (data (i32.const 4096) "\01\00\00\00\00{}")

  (func (export "execvault_fire") (param $executor i32) (param $ptr i32) (param $len i32) (result i64)
    (call $pack (i32.const 4096) (i32.const 7)))
)
