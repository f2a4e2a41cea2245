# Source me on an Ascend node (the slurm-ascend profile's setup line does): CANN's environment.
#   source tools/ascend_env.sh [CANN_SET_ENV]
# CANN is not on PyPI: install the toolkit (and the ops package) from Huawei, a version MindSpore
# 2.10 accepts (8.2, 8.3, 8.5, 9.0 or 9.1; its Ascend kernels were compiled with 9.1), then
# `python -m bert.doctor --device Ascend`.
_bert_set_env="${1:-}"
if [ -z "$_bert_set_env" ]; then
    for _bert_candidate in "${ASCEND_HOME_PATH:-}/set_env.sh" /usr/local/Ascend/ascend-toolkit/set_env.sh \
                           /usr/local/Ascend/cann/set_env.sh; do
        if [ -f "$_bert_candidate" ]; then _bert_set_env="$_bert_candidate"; break; fi
    done
fi
if [ -n "$_bert_set_env" ] && [ -f "$_bert_set_env" ]; then
    # shellcheck disable=SC1090
    . "$_bert_set_env"
else
    echo "tools/ascend_env.sh: no CANN set_env.sh found (give its path, or install CANN 8.2-9.1)" >&2
fi
unset _bert_set_env _bert_candidate
