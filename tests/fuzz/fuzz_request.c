/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for spawnd-control(7) requests: any bytes through
 * sd_request_parse, then the response spawnd would send (ok or error) built
 * and written with sd_json_line, then everything freed. A crash, a leak
 * (LeakSanitizer) or a hang is a bug; so is
 *  - a failure without a code and a message, or a success with one;
 *  - a request that breaks its own limits (names, lines, timeout, signal);
 *  - a response that is not one line of strict JSON: it is fed back to
 *    sd_request_parse, which must see a JSON object that lacks "cmd" (and not
 *    bad_json), and whose "id" is the one echoed;
 *  - a signal name that does not read back as the same signal.
 *
 *   clang -std=gnu17 -g -O1 -fsanitize=fuzzer,address,undefined -Isupervisor \
 *       -o fuzz_request tests/fuzz/fuzz_request.c supervisor/request.c \
 *       $(pkg-config --cflags --libs json-c)
 *   ./fuzz_request -dict=tests/fuzz/request.dict tests/fuzz/corpus/request/
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_request(const struct sd_request *req)
{
	if (!sd_cmd_name(req->cmd))
		abort();
	if (req->names && (req->nnames < 1 || req->nnames > SD_NAMES_MAX))
		abort();
	for (size_t i = 0; i < req->nnames; i++)
		if (!req->names[i][0] || strlen(req->names[i]) > SD_NAME_MAX)
			abort();
	if (req->name && strlen(req->name) > SD_NAME_MAX)
		abort();
	if (req->lines > SD_LINES_MAX || req->timeout_ms > SD_TIMEOUT_MAX_MS)
		abort();
	if (req->cmd == SD_CMD_SIGNAL && (req->signal < 1 || req->signal > 64))
		abort();
	if (req->id && !req->has_id)
		abort();
}

/* line (a response) is one line of strict JSON with the id of req. */
static void check_line(const char *line, size_t len, const struct sd_request *req)
{
	struct sd_request back;
	struct sd_request_error err;
	int r;

	if (len < 2 || line[len - 1] != '\n' || memchr(line, '\n', len - 1) || strlen(line) != len)
		abort();
	/* A response is an object with "v":1 and no "cmd": anything but that
	 * error means it is not strict JSON, or not such an object. (One that
	 * echoes an id near the size limit is itself too large to read back.) */
	if (len > SD_REQUEST_MAX)
		return;
	r = sd_request_parse(line, len - 1, &back, &err);
	if (r != -EINVAL || strcmp(err.code, SD_ERR_BAD_REQUEST) ||
	    strcmp(err.message, "missing \"cmd\""))
		abort();
	if (back.has_id != req->has_id || !json_object_equal(back.id, req->id))
		abort();
	sd_request_free(&back);
}

/* A short input as a signal name: what it means must read back. */
static void check_signal(const uint8_t *data, size_t size)
{
	char s[24], buf[16];
	int sig;

	if (size >= sizeof(s))
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	sig = sd_signal_parse(s);
	if (sig == -EINVAL)
		return;
	if (sig < 1 || sig > 64 || sd_signal_parse(sd_signal_str(sig, buf)) != sig)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sd_request req;
	struct sd_request_error err;
	json_object *resp;
	char *line = NULL;
	size_t len = 0;
	int r;

	/* As the server does: a line without its newline, not NUL-terminated
	 * (libFuzzer's buffer is exactly size bytes, so ASan sees overreads). */
	r = sd_request_parse((const char *)data, size, &req, &err);
	if (r == 0) {
		if (err.code || err.message[0])
			abort();
		check_request(&req);
		resp = sd_response_ok(&req);
	} else if (r == -EINVAL) {
		if (!err.code || !err.message[0] || strlen(err.message) >= sizeof(err.message))
			abort();
		if (req.name || req.names || req.nnames)
			abort();
		resp = sd_response_error(&req, err.code, err.message);
	} else {
		/* -ENOMEM: nothing else may come back. */
		if (r != -ENOMEM)
			abort();
		resp = NULL;
	}
	if (resp) {
		line = sd_json_line(resp, &len);
		if (line)
			check_line(line, len, &req);
	}
	free(line);
	json_object_put(resp);
	sd_request_free(&req);
	check_signal(data, size);
	return 0;
}
