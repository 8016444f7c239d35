;; loop-recursion.wat: recursion.wat with the body of $tree inside a loop
;; that runs once per call. The runtime leaves out the check at the entry
;; of a function that reaches a loop before any call, so here the check at
;; the loop header alone must stop the 2^40 calls before the timeout.
;; Rebuild with: wat2wasm loop-recursion.wat -o loop-recursion.wasm
(module
  (memory (export "memory") 2)

  ;; The manifest: 247 bytes at 1024.
  (data (i32.const 1024) "{\22abiVersion\22:1,\22sdk\22:\22execvault-wat-test/1\22,\22executors\22:[{\22name\22:\22test-loop-recursion\22,\22trigger\22:{\22kind\22:\22record\22,\22typeName\22:\22salesOrder\22,\22events\22:[\22created\22]},\22operation\22:{\22kind\22:\22webhook\22,\22url\22:\22http://127.0.0.1:9/unused\22,\22requestBody\22:true}}]}")

  ;; Arguments go at 65536 (page 1); this guest never reads them.
  (func (export "execvault_alloc") (param $size i32) (result i32)
    (if (i32.gt_u (local.get $size) (i32.const 65536))
      (then (return (i32.const 0))))
    (i32.const 65536))

  (func (export "execvault_manifest") (result i64)
    (i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const 247)))

  ;; $tree calls itself twice until $depth reaches 0: 2^depth calls in all,
  ;; with a stack only depth frames deep. Its loop never branches back.
  (func $tree (param $depth i32) (result i32)
    (loop $once (result i32)
      (if (result i32) (i32.eqz (local.get $depth))
        (then (i32.const 1))
        (else
          (i32.add
            (call $tree (i32.sub (local.get $depth) (i32.const 1)))
            (call $tree (i32.sub (local.get $depth) (i32.const 1))))))))

  (func (export "execvault_fire") (param $executor i32) (param $ptr i32) (param $len i32) (result i64)
    (drop (call $tree (i32.const 40)))
    (i64.const 0))
)
