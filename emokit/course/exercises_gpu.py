"""The exercises of notebook 10 (the training step on a GPU): ``notebook10``, re-exported by
:mod:`emokit.course.exercises` as ``exercises.notebook10`` like the other notebooks' checkers."""

from __future__ import annotations

from emokit.course.checking import check


def notebook10(n_traces, n_broken, n_candidates, *, dataset, gru, cpu) -> dict[str, str]:
    """10 the GPU-ready step: how often a plain ``tf.function`` traces over one epoch of
    ``dataset`` (one trace per input shape), how many cuDNN conditions the GRU ``gru`` breaks,
    and how many text codes each replica's InfoNCE sees when ``use_accelerator`` sets up ``cpu``
    (the preset as written) for 2 GPUs (the per-replica share of the global batch)."""
    from emokit.config.accelerator import use_accelerator
    from emokit.training.gpu_ready import batch_shapes, cudnn_problems

    shapes = batch_shapes(dataset)
    batches = sum(shapes.values())
    broken = len(cudnn_problems(gru))
    cpu_batch = cpu.pipeline.batch_size
    global_batch = use_accelerator(cpu, gpu_count=2).pipeline.batch_size
    return {
        "1": check("1", n_traces, len(shapes),
                   hints=[(batches, "that is one trace per batch: which batches share a trace?"),
                          (1, ("one trace for every shape needs a signature with free "
                               "dimensions; a plain tf.function has none")),
                          (len(shapes) - 1, "the last batch of an epoch may be smaller")],
                   hint="a trace per input signature: count the shapes one epoch yields"),
        "2": check("2", n_broken, broken,
                   hints=[(lambda a: gru.dropout and a == broken + 1,
                           ("input `dropout` is applied to the sequence before the kernel: it "
                            "rules nothing out")),
                          (0, "compare each setting of `suspect` with section 4's six"),
                          (6, "most of the six are the defaults, which `suspect` keeps")],
                   hint="`gpu_ready.cudnn_report(suspect)` lists what it breaks"),
        "3": check("3", n_candidates, global_batch // 2,
                   hints=[(global_batch, ("that is the global batch: each replica computes its "
                                          "pair loss on its own share")),
                          (cpu_batch, "that is the CPU batch: on a GPU the batch grows"),
                          (cpu_batch // 2, ("split the 2-GPU config's batch, not the CPU "
                                            "config's")),
                          (global_batch // 2 - 1, "the partner itself is one of the candidates")],
                   hint="read `pipeline.batch_size` of `use_accelerator(cpu, gpu_count=2)`"),
    }
