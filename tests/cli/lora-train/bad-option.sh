$EXEC_PREFIX lora-train --bogus
