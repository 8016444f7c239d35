;; calls.wat: the smallest guests that isolate wazero's per-call and
;; per-loop-iteration costs, for the termination benchmarks of the runtime
;; package. Rebuild with: wat2wasm calls.wat -o calls.wasm
(module
  ;; nop returns at once: a call to it costs only the host's call path.
  (func (export "nop"))

  ;; spin runs a loop of $n iterations that does nothing else, so that the
  ;; cost of one loop header shows up as (time / n).
  (func (export "spin") (param $n i32)
    (loop $again
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $again (i32.gt_s (local.get $n) (i32.const 0))))))
