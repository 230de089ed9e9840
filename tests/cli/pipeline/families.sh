# Every tool on the tiny models of the other families (tests/ref/family_golden.py: Llama with
# biases, Mistral with a sliding window, Qwen2 with and without sliding layers, Qwen3, Gemma,
# Gemma-2, Phi-3 with fused projections, GLM, GLM-4): lora-train on the float base, lora-merge
# of its adapter (the bias tensors carried, the merged model trains again), quantize-nf4 (the
# biases stay float), lora-train on the NF4 base, and prefix tuning on the NF4 base with
# ChatGLM2's options and the projection MLP. Their numbers against transformers and PEFT are
# tests/kernels/model/test_families.c's and test_prefix.c's; here every tool must take the
# model.
P="$QT_TEST_SRCDIR/data/lora_train/train.pack"
A="--max-steps 3 --lr 1e-3 --quiet --device cpu"
for f in llama-bias mistral-window qwen2 qwen2-window qwen3 gemma gemma2 phi3 glm glm4; do
	M="$QT_TEST_SRCDIR/data/family/$f"
	$EXEC_PREFIX lora-train -m "$M" --train "$P" -o "$f-t" $A || { echo "$f: train failed"; continue; }
	$EXEC_PREFIX lora-merge -q -m "$M" -a "$f-t/adapter" -o "$f-merged" || { echo "$f: merge failed"; continue; }
	$EXEC_PREFIX quantize-nf4 -q -o "$f-nf4" "$M" || { echo "$f: quantize failed"; continue; }
	$EXEC_PREFIX lora-train -m "$f-merged" --train "$P" -o "$f-mt" $A || echo "$f: train on merged failed"
	$EXEC_PREFIX lora-train -m "$f-nf4" --train "$P" -o "$f-qt" $A || echo "$f: train on NF4 failed"
	$EXEC_PREFIX lora-train -m "$f-nf4" --train "$P" -o "$f-pt" $A --method prefix \
		--virtual-tokens 4 --prefix-positions 0 --prefix-dropout 0.1 --prefix-projection ||
		echo "$f: prefix tuning on NF4 failed"
	# bias tensor names in each weights file's header
	for d in "$M" "$f-merged" "$f-nf4"; do
		tr -c 'a-z0-9_.' '\n' < "$d/model.safetensors" | grep -c '_proj\.bias$'
	done | tr '\n' ' '
	echo "$f: ok"
done
