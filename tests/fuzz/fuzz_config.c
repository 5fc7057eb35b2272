/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for spawnd.conf(5): any bytes through sd_config_parse,
 * then everything freed. A crash, a leak (LeakSanitizer) or a hang is a
 * bug; so is a failure that leaves no message, or a success with one.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Isupervisor \
 *       -o fuzz_config tests/fuzz/fuzz_config.c supervisor/config.c \
 *       supervisor/strategy.c $(pkg-config --cflags --libs libconfig)
 *   ./fuzz_config tests/fuzz/corpus/config/
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/*
 * libconfig 1.5 leaks the text of a string token that is the lookahead at a
 * syntax error (`a "x";`): its grammar has no %destructor for TOK_STRING.
 * Upstream issue 142, fixed in 1.7.3 (commit f2e951c); Debian ships 1.5.
 * The buffer never reaches spawnd's code, so only the scanner's two ways of
 * making a token's text are suppressed: its string buffer (strbuf_append)
 * and, for "", an allocation in the scanner itself. Settings' values are
 * copied elsewhere (config_setting_set_string, under yyparse), so a config
 * we forgot to destroy is still reported, as is anything of ours.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:strbuf_append\nleak:libconfig_yylex\n";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sd_config *cfg = NULL;
	struct sd_errors errs;
	char *text = malloc(size + 1);
	int r;

	if (!text)
		return 0;
	/* The text ends at the first NUL, as a C string does. */
	memcpy(text, data, size);
	text[size] = '\0';
	/* A folder that does not exist: relative programs are never found,
	 * and nothing on this machine is read through them. */
	r = sd_config_parse(text, "fuzz.conf", "/nonexistent-fuzz-dir", &cfg, &errs);
	if (r == 0 && (!cfg || errs.n))
		abort();
	if (r == -EINVAL && (cfg || !errs.n))
		abort();
	if (r == 0) {
		/* Every node can be found again by its full name. */
		struct sd_node *stack[64];
		int top = 0;

		stack[top++] = cfg->root;
		while (top) {
			struct sd_node *n = stack[--top];

			if (sd_config_find(cfg, n->path) != n)
				abort();
			for (size_t i = 0; i < n->nchildren && top < 64; i++)
				stack[top++] = n->children[i];
		}
	}
	sd_config_free(cfg);
	sd_errors_free(&errs);
	free(text);
	return 0;
}
