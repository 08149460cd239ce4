# Atlas of SmolLM2-135M-Instruct: all 30 x 1,536 up-projection neurons through the tied LM head
# (vocab 49,152), variant A (plain), raw scale, top-10, chunks of 256 rows, float32 on the CPU.
#   fw lmhead_decode atlas decode_smollm2 OUT     (or: fw train lmhead_decode decode_smollm2)
decoder = dict(
    type='lmhead_decode.NeuronDecoder',
    model='smollm2',
    matrix='up',
    variant='A',
    scale='raw',
    k=10,
    chunk=256,
    tau=1.0,
    dtype='float32',
    device='cpu',
)
