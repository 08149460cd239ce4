# The paper's setting (Davies 2025, Sec. 2): every up-projection neuron of Llama 3.1 8B
# (32 layers x 14,336 = 458,752 neurons, hidden 4,096, untied LM head of 128,256 tokens), bf16
# weights decoded in float32 chunks of 1,024 rows on one GPU. The paper maps the whole
# up-projection in under 15 minutes without parallelisation. Put the local checkpoint at the
# path below (config.json, *.safetensors, tokenizer files) or override it:
#   fw lmhead_decode atlas decode_llama31_8b OUT
#   fw train lmhead_decode decode_llama31_8b --cfg-options decoder.model=/path/to/Llama-3.1-8B
decoder = dict(
    type='lmhead_decode.NeuronDecoder',
    model='/data/models/Llama-3.1-8B',
    matrix='up',
    variant='A',
    scale='raw',
    k=10,
    chunk=1024,
    tau=1.0,
    dtype='float32',
    device='cuda',
    load_dtype='bfloat16',
)
