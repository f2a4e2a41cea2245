# Source me on a GPU node (the slurm-gpu profile's setup line does): the CUDA 11 libraries of
# requirements-gpu.txt on the loader's path, and a persistent CUDA kernel cache.
#   source tools/gpu_env.sh [PYTHON]      (default: python on PATH, i.e. the activated venv)
# MindSpore's GPU plugin has RPATH /usr/local/cuda/lib64 before LD_LIBRARY_PATH: a CUDA 11 there
# wins; a CUDA 12 there has other sonames and is skipped. Its kernels are built for sm_60…sm_80 +
# compute_86 PTX, so on Hopper (H100/H200) the driver JIT-compiles them: CUDA_CACHE_PATH on
# persistent storage keeps that to the first job.
_bert_python="${1:-python}"
_bert_nvidia="$("$_bert_python" -c 'import nvidia, os; print(os.pathsep.join(sorted(os.path.join(p, d, "lib") for p in nvidia.__path__ for d in os.listdir(p) if os.path.isdir(os.path.join(p, d, "lib")))))' 2>/dev/null)"
if [ -z "$_bert_nvidia" ]; then
    echo "tools/gpu_env.sh: no nvidia-*-cu11 wheels in $_bert_python's environment (pip install -r requirements-gpu.txt)" >&2
else
    export LD_LIBRARY_PATH="$_bert_nvidia${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
export CUDA_CACHE_PATH="${CUDA_CACHE_PATH:-$HOME/.cache/bert-cuda-kernels}"
export CUDA_CACHE_MAXSIZE="${CUDA_CACHE_MAXSIZE:-4294967296}"
unset _bert_python _bert_nvidia
