/* SPDX-License-Identifier: MIT */
/*
 * The control protocol's messages (spawnd-control(7)), without a daemon:
 * every command's valid forms and defaults, every error a request line can
 * earn and its message, the id echoed in responses, the limits, signal
 * names, and the exact bytes of responses and events.
 *
 * Messages are compared whole where a person reads them, so that a change of
 * wording is a decision rather than an accident.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../supervisor/request.h"

static struct sd_request req;
static struct sd_request_error err;

static void fini(void)
{
	sd_request_free(&req);
}

TestSuite(request, .fini = fini, .timeout = 10);

static int parse_len(const char *line, size_t len)
{
	sd_request_free(&req);
	return sd_request_parse(line, len, &req, &err);
}

static int parse(const char *line)
{
	return parse_len(line, strlen(line));
}

/* The line parses. */
static void ok(const char *line)
{
	int r = parse(line);

	cr_assert_eq(r, 0, "%s: %d, %s: %s", line, r, err.code ? err.code : "(no code)",
		     err.message);
	cr_assert_null(err.code, "%s: success with a code", line);
}

/* The line fails with code, and a message equal to message (NULL: any
 * message, but one). */
static void fails_len(const char *line, size_t len, const char *code, const char *message)
{
	int r = parse_len(line, len);

	cr_assert_eq(r, -EINVAL, "%.*s: %d, expected %s", (int)len, line, r, code);
	cr_assert_not_null(err.code, "%.*s: no code", (int)len, line);
	cr_assert_str_eq(err.code, code, "%.*s: %s (%s), expected %s", (int)len, line, err.code,
			 err.message, code);
	cr_assert_neq(err.message[0], '\0', "%.*s: no message", (int)len, line);
	if (message)
		cr_assert_str_eq(err.message, message, "%.*s:\n  got      %s\n  expected %s",
				 (int)len, line, err.message, message);
	/* Only the id outlives a failure. */
	cr_assert_null(req.name);
	cr_assert_null(req.names);
	cr_assert_eq(req.nnames, 0);
}

static void fails(const char *line, const char *code, const char *message)
{
	fails_len(line, strlen(line), code, message);
}

/* obj as its line (obj released); the caller frees it. */
static char *line_of(json_object *obj)
{
	size_t len = 0;
	char *line;

	cr_assert_not_null(obj);
	line = sd_json_line(obj, &len);
	json_object_put(obj);
	cr_assert_not_null(line);
	cr_assert_eq(len, strlen(line));
	cr_assert(len >= 1 && line[len - 1] == '\n', "%s: no newline at the end", line);
	cr_assert_null(memchr(line, '\n', len - 1), "%s: a newline inside", line);
	return line;
}

static void assert_line(json_object *obj, const char *expected)
{
	char *line = line_of(obj);

	cr_assert_str_eq(line, expected);
	free(line);
}

/* ---- valid requests ------------------------------------------------------ */

/* status with nothing else: the whole tree, no id, every default in place. */
Test(request, status_minimal)
{
	ok("{\"v\":1,\"cmd\":\"status\"}");
	cr_assert_eq(req.cmd, SD_CMD_STATUS);
	cr_assert_null(req.name);
	cr_assert_null(req.id);
	cr_assert_not(req.has_id);
	cr_assert_null(req.names);
	cr_assert_eq(req.nnames, 0);
	cr_assert_eq(req.lines, SD_LINES_DEF);
	cr_assert_not(req.follow);
	cr_assert(req.wait);
	cr_assert_eq(req.timeout_ms, SD_TIMEOUT_DEF_MS);
}

/* status takes a name, the root as "" or "/"; keys in any order, white
 * space anywhere JSON allows it. */
Test(request, status_name)
{
	ok("{\"v\":1,\"cmd\":\"status\",\"name\":\"pipeline/consumer\"}");
	cr_assert_str_eq(req.name, "pipeline/consumer");
	ok("{\"name\":\"\",\"cmd\":\"status\",\"v\":1}");
	cr_assert_str_eq(req.name, "");
	ok(" \t{ \"v\" : 1 ,\r\n\"cmd\":\"status\", \"name\" : \"/\" } \r\n\t");
	cr_assert_str_eq(req.name, "/");
}

/* logs needs a name; lines defaults to 10 and follow to false. */
Test(request, logs_defaults)
{
	ok("{\"v\":1,\"cmd\":\"logs\",\"name\":\"web\"}");
	cr_assert_eq(req.cmd, SD_CMD_LOGS);
	cr_assert_str_eq(req.name, "web");
	cr_assert_eq(req.lines, 10);
	cr_assert_not(req.follow);
	fails("{\"v\":1,\"cmd\":\"logs\"}", SD_ERR_BAD_REQUEST, "missing \"name\" for \"logs\"");
}

/* lines takes 0 (none) up to SD_LINES_MAX; follow a boolean. */
Test(request, logs_arguments)
{
	ok("{\"v\":1,\"cmd\":\"logs\",\"name\":\"a/b\",\"lines\":0,\"follow\":true}");
	cr_assert_eq(req.lines, 0);
	cr_assert(req.follow);
	ok("{\"v\":1,\"cmd\":\"logs\",\"name\":\"a\",\"lines\":100000,\"follow\":false}");
	cr_assert_eq(req.lines, SD_LINES_MAX);
	cr_assert_not(req.follow);
	ok("{\"v\":1,\"cmd\":\"logs\",\"name\":\"a\",\"lines\":-0}");
	cr_assert_eq(req.lines, 0);
}

/* events, reload and shutdown take no arguments. */
Test(request, no_arguments)
{
	static const struct {
		const char *cmd;
		enum sd_cmd want;
	} t[] = {
		{ "events", SD_CMD_EVENTS },
		{ "reload", SD_CMD_RELOAD },
		{ "shutdown", SD_CMD_SHUTDOWN },
	};
	char line[128], msg[128];

	for (size_t i = 0; i < 3; i++) {
		snprintf(line, sizeof(line), "{\"v\":1,\"cmd\":\"%s\"}", t[i].cmd);
		ok(line);
		cr_assert_eq(req.cmd, t[i].want, "%s", line);
		snprintf(line, sizeof(line), "{\"v\":1,\"cmd\":\"%s\",\"name\":\"x\"}", t[i].cmd);
		snprintf(msg, sizeof(msg), "unknown key \"name\" for \"%s\"", t[i].cmd);
		fails(line, SD_ERR_BAD_REQUEST, msg);
	}
}

/* start, stop and restart: names copied in order; wait true and a 10 s
 * timeout by default. */
Test(request, start_stop_restart_defaults)
{
	static const struct {
		const char *cmd;
		enum sd_cmd want;
	} t[] = {
		{ "start", SD_CMD_START },
		{ "stop", SD_CMD_STOP },
		{ "restart", SD_CMD_RESTART },
	};
	char line[128], msg[128];

	for (size_t i = 0; i < 3; i++) {
		snprintf(line, sizeof(line),
			 "{\"v\":1,\"cmd\":\"%s\",\"names\":[\"web\",\"pipeline/consumer\",\"/\"]}",
			 t[i].cmd);
		ok(line);
		cr_assert_eq(req.cmd, t[i].want);
		cr_assert_eq(req.nnames, 3);
		cr_assert_str_eq(req.names[0], "web");
		cr_assert_str_eq(req.names[1], "pipeline/consumer");
		cr_assert_str_eq(req.names[2], "/");
		cr_assert(req.wait);
		cr_assert_eq(req.timeout_ms, SD_TIMEOUT_DEF_MS);

		snprintf(line, sizeof(line), "{\"v\":1,\"cmd\":\"%s\"}", t[i].cmd);
		snprintf(msg, sizeof(msg), "missing \"names\" for \"%s\"", t[i].cmd);
		fails(line, SD_ERR_BAD_REQUEST, msg);
	}
}

/* wait and timeout_ms as given, at both ends of the timeout's range. */
Test(request, wait_and_timeout)
{
	ok("{\"v\":1,\"cmd\":\"stop\",\"names\":[\"a\"],\"wait\":false,\"timeout_ms\":0}");
	cr_assert_not(req.wait);
	cr_assert_eq(req.timeout_ms, 0);
	ok("{\"v\":1,\"cmd\":\"restart\",\"names\":[\"a\"],\"wait\":true,\"timeout_ms\":3600000}");
	cr_assert(req.wait);
	cr_assert_eq(req.timeout_ms, SD_TIMEOUT_MAX_MS);
}

/* signal: names and a signal, as a name (with or without SIG, any case), a
 * decimal string or a JSON number. */
Test(request, signal_forms)
{
	static const struct {
		const char *sig;
		int want;
	} t[] = {
		{ "\"TERM\"", SIGTERM },
		{ "\"SIGKILL\"", SIGKILL },
		{ "\"hup\"", SIGHUP },
		{ "\"sigUsr1\"", SIGUSR1 },
		{ "\"15\"", 15 },
		{ "9", 9 },
		{ "64", 64 },
		{ "1", 1 },
	};
	char line[128];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(line, sizeof(line),
			 "{\"v\":1,\"cmd\":\"signal\",\"names\":[\"w\"],\"signal\":%s}", t[i].sig);
		ok(line);
		cr_assert_eq(req.cmd, SD_CMD_SIGNAL);
		cr_assert_eq(req.signal, t[i].want, "%s: %d", line, req.signal);
		cr_assert_eq(req.nnames, 1);
		cr_assert_str_eq(req.names[0], "w");
	}
}

/* signal needs both names and signal. */
Test(request, signal_needs_both)
{
	fails("{\"v\":1,\"cmd\":\"signal\",\"names\":[\"w\"]}", SD_ERR_BAD_REQUEST,
	      "missing \"signal\" for \"signal\"");
	fails("{\"v\":1,\"cmd\":\"signal\",\"signal\":\"TERM\"}", SD_ERR_BAD_REQUEST,
	      "missing \"names\" for \"signal\"");
}

/* A bad signal is refused with its value named. */
Test(request, signal_bad)
{
#define HELP " (a name such as \"TERM\", or 1 to 64)"
	static const struct {
		const char *sig, *message;
	} t[] = {
		{ "\"FOO\"", "\"signal\": unknown signal \"FOO\"" HELP },
		{ "\"0\"", "\"signal\": unknown signal \"0\"" HELP },
		{ "\"65\"", "\"signal\": unknown signal \"65\"" HELP },
		{ "\"SIG\"", "\"signal\": unknown signal \"SIG\"" HELP },
		{ "\"\"", "\"signal\": unknown signal \"\"" HELP },
		{ "\"TERM\\u0000x\"", "\"signal\": unknown signal \"TERM\\u0000x\"" HELP },
		{ "0", "\"signal\": 0 is out of range (1 to 64)" },
		{ "65", "\"signal\": 65 is out of range (1 to 64)" },
		{ "-15", "\"signal\": -15 is out of range (1 to 64)" },
		{ "15.0", "\"signal\": expected a signal name or number, got a fraction" },
		{ "[\"TERM\"]", "\"signal\": expected a signal name or number, got an array" },
		{ "null", "\"signal\": expected a signal name or number, got null" },
	};
	char line[160];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(line, sizeof(line),
			 "{\"v\":1,\"cmd\":\"signal\",\"names\":[\"w\"],\"signal\":%s}", t[i].sig);
		fails(line, SD_ERR_BAD_REQUEST, t[i].message);
	}
#undef HELP
}

/* Every command can be parsed, and comes back as what its name says. */
Test(request, every_command)
{
	static const char *const extra[] = {
		[SD_CMD_STATUS] = "",
		[SD_CMD_LOGS] = ",\"name\":\"w\"",
		[SD_CMD_EVENTS] = "",
		[SD_CMD_START] = ",\"names\":[\"w\"]",
		[SD_CMD_STOP] = ",\"names\":[\"w\"]",
		[SD_CMD_RESTART] = ",\"names\":[\"w\"]",
		[SD_CMD_SIGNAL] = ",\"names\":[\"w\"],\"signal\":\"INT\"",
		[SD_CMD_RELOAD] = "",
		[SD_CMD_SHUTDOWN] = "",
	};
	char line[128];

	for (int c = SD_CMD_STATUS; c <= SD_CMD_SHUTDOWN; c++) {
		cr_assert_not_null(sd_cmd_name((enum sd_cmd)c));
		snprintf(line, sizeof(line), "{\"v\":1,\"cmd\":\"%s\"%s}",
			 sd_cmd_name((enum sd_cmd)c), extra[c]);
		ok(line);
		cr_assert_eq(req.cmd, (enum sd_cmd)c, "%s", line);
	}
}

/* Command names and access levels: status, logs and events only read. */
Test(request, command_table)
{
	static const char *const names[] = { "status", "logs", "events", "start", "stop",
					      "restart", "signal", "reload", "shutdown" };
	static const bool reads[] = { true, true, true, false, false, false, false, false, false };

	for (int c = SD_CMD_STATUS; c <= SD_CMD_SHUTDOWN; c++) {
		cr_assert_str_eq(sd_cmd_name((enum sd_cmd)c), names[c]);
		cr_assert_eq(sd_cmd_reads_only((enum sd_cmd)c), reads[c], "%s", names[c]);
	}
	/* Whatever is not a command needs the admin level. */
	cr_assert_null(sd_cmd_name((enum sd_cmd)(SD_CMD_SHUTDOWN + 1)));
	cr_assert_not(sd_cmd_reads_only((enum sd_cmd)(SD_CMD_SHUTDOWN + 1)));
	cr_assert_not(sd_cmd_reads_only((enum sd_cmd)-1));
}

/* The line is len bytes: what follows it in memory is not read. */
Test(request, not_nul_terminated)
{
	static const char good[] = "{\"v\":1,\"cmd\":\"events\"}";
	static const char buf[] = "{\"v\":1,\"cmd\":\"events\"}{\"junk\":";
	char *copy = malloc(sizeof(good) - 1);

	cr_assert_not_null(copy);
	cr_assert_eq(parse_len(buf, sizeof(good) - 1), 0, "%s", err.message);
	cr_assert_eq(req.cmd, SD_CMD_EVENTS);
	/* Exactly len bytes are read (ASan would see one more). */
	memcpy(copy, good, sizeof(good) - 1);
	cr_assert_eq(parse_len(copy, sizeof(good) - 1), 0, "%s", err.message);
	free(copy);
	/* The closing brace is in memory, but not in the line. */
	fails_len(good, sizeof(good) - 2, SD_ERR_BAD_JSON,
		  "invalid JSON at byte 22: unexpected end of data");
	/* A number is whole where the line ends. */
	fails_len("123", 2, SD_ERR_BAD_JSON, "expected a JSON object, got an integer");
}

/* ---- errors ---------------------------------------------------------------- */

/* What is not a JSON object, or not strict JSON, is bad_json: including
 * what json-c's own strict mode lets through. */
Test(request, bad_json)
{
	static const char *const t[] = {
		"",
		"   ",
		"nope",
		"[]",
		"[{\"v\":1,\"cmd\":\"status\"}]",
		"\"status\"",
		"42",
		"null",
		"true",
		"{",
		"{\"v\":1",
		"{\"v\":1,\"cmd\":\"status\"",
		"{\"v\":1,}",
		"{\"v\":1,\"cmd\":\"status\",}",
		"{\"v\" 1}",
		"{\"v\":1 \"cmd\":\"status\"}",
		"{v:1}",
		"{\"v\":1,\"cmd\":\"status\"} x",
		"{\"v\":1,\"cmd\":\"status\"}{}",
		"{\"v\":1,\"cmd\":\"status\"}}",
		"{'v':1,'cmd':'status'}",
		"{\"v\":1,\"cmd\":\"status\",\"id\":NaN}",
		"{\"v\":1,\"cmd\":\"status\",\"id\":Infinity}",
		"{\"v\":1,\"cmd\":\"status\",\"id\":-Infinity}",
		"{\"v\":1,\"cmd\":\"status\",\"id\":01}",
		"{\"v\":1,\"cmd\":\"status\",\"id\":-01}",
		"{\"v\":1,\"cmd\":\"status\",\"id\":1.}",
		"{\"v\":1,\"cmd\":\"status\",\"id\":1.e5}",
		"{\"v\":1,\"cmd\":\"status\",\"id\":.5}",
		"{\"v\":1,\"cmd\":\"status\",\"id\":+1}",
		"{\"v\":1,\"cmd\":\"status\",\"id\":1e}",
		"{\"v\":1,\"cmd\":\"status\",\"id\":0x10}",
		"{\"v\":1,\"cmd\":\"status\",\"id\":1.2.3}",
		"{\"v\":1,\"cmd\":\"status\",\"id\":True}",
		"{\"v\":1,\"cmd\":\"status\",\"id\":nul}",
		"{\"v\":1,\"cmd\":\"status\",\"id\":nullx}",
		"{\"v\":1,\"cmd\":\"status\",\"id\":\"a\tb\"}",
		"{\"v\":1,\"cmd\":\"status\",\"id\":\"\x01\"}",
		"{\"v\":1,\"cmd\":\"status\",\"id\":\"\xff\"}",
		"{\"v\":1,\"cmd\":\"status\",\"id\":\"\xc0\x80\"}",
		"{\"v\":1,\"cmd\":\"status\",\"id\":\"\xed\xa0\x80\"}",
		"{\"v\":1,\"cmd\":\"status\",\"id\":\"\xf4\x90\x80\x80\"}",
		"{\"v\":1,\"cmd\":\"status\",\"id\":\"\xe2\x82\"}",
		"{\"v\":1,\"cmd\":\"status\",\"id\":\"\\x41\"}",
		"{\"v\":1,\"cmd\":\"status\",\"id\":\"\\u12\"}",
		"{\"v\":1,\"cmd\":\"status\",\"id\":\"\\u12g4\"}",
		"{\"v\":1,\"cmd\":\"status\",\"id\":\"abc}",
		"{\"v\":1,\"cmd\":\"status\",\"id\":\"abc\\",
		"{\"v\":1,\"cmd\":\"status\",\"id\":\"\\u00",
		"{\"v\":1,\"cmd\":\"status\",\"na\\u0000me\":\"x\"}",
		"{\"v\":1,\"cmd\":\"status\"} /* comment */",
		"{\"v\":1,\"cmd\":\"status\"} // comment",
		"\xef\xbb\xbf{\"v\":1,\"cmd\":\"status\"}",
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		fails(t[i], SD_ERR_BAD_JSON, NULL);
		cr_assert_null(req.id, "%s: an id from bad JSON", t[i]);
		cr_assert_not(req.has_id, "%s", t[i]);
	}
}

/* UTF-8 is taken at its boundaries and refused just past them (RFC 3629):
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
Test(request, utf8_boundaries)
{
	static const char *const good[] = {
		"\x7f", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80",
		"\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf", "\xf0\x9f\x98\x80",
	};
	static const char *const bad[] = {
		"\x80", "\xc1\xbf", "\xe0\x9f\xbf", "\xed\xa0\x80", "\xed\xbf\xbf",
		"\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff", "\xc2",
		"\xe2\x82", "\xf0\x9f\x98", "\xc2\x41", "\xe2\x28\xa1",
	};
	static const char fmt[] = "{\"v\":1,\"cmd\":\"status\",\"name\":\"%s\"}";
	char line[64];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(line, sizeof(line), fmt, good[i]);
		ok(line);
		cr_assert_str_eq(req.name, good[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line), fmt, bad[i]);
		fails(line, SD_ERR_BAD_JSON, "invalid JSON at byte 31: invalid UTF-8");
	}
}

/* bad_json messages say where (counting bytes from 1) and what. */
Test(request, bad_json_messages)
{
	fails("", SD_ERR_BAD_JSON, "empty request: expected a JSON object");
	fails("[1]", SD_ERR_BAD_JSON, "expected a JSON object, got an array");
	fails("\"x\"", SD_ERR_BAD_JSON, "expected a JSON object, got a string");
	fails("null", SD_ERR_BAD_JSON, "expected a JSON object, got null");
	fails(" 1.5 ", SD_ERR_BAD_JSON, "expected a JSON object, got a fraction");
	fails("{\"v\":NaN}", SD_ERR_BAD_JSON, "invalid JSON at byte 6: unexpected 'N'");
	fails("{\"v\":\x01}", SD_ERR_BAD_JSON, "invalid JSON at byte 6: unexpected byte 0x01");
	fails("{\"v\":\"\x01\"}", SD_ERR_BAD_JSON,
	      "invalid JSON at byte 7: control character in a string (escape it)");
	fails("{'v':1}", SD_ERR_BAD_JSON,
	      "invalid JSON at byte 2: strings take double quotes, not single");
	fails("{\"v\":01}", SD_ERR_BAD_JSON, "invalid JSON at byte 6: invalid number");
	fails("{\"v\":\"\xff\"}", SD_ERR_BAD_JSON, "invalid JSON at byte 7: invalid UTF-8");
	fails("{\"a\\u0000\":1}", SD_ERR_BAD_JSON, "invalid JSON at byte 4: \\u0000 in a key");
	fails("{\"v\":\"ab", SD_ERR_BAD_JSON, "invalid JSON at byte 9: unterminated string");
	fails("{\"v\":1} x", SD_ERR_BAD_JSON, "invalid JSON at byte 9: unexpected 'x'");
	fails("{\"v\":1}}", SD_ERR_BAD_JSON, "invalid JSON at byte 8: unexpected character");
	fails("{\"v\":1,,}", SD_ERR_BAD_JSON,
	      "invalid JSON at byte 8: quoted object property name expected");
	fails("{\"v\":1", SD_ERR_BAD_JSON, "invalid JSON at byte 7: unexpected end of data");
}

/* A NUL byte anywhere in the line is refused, not taken as its end. */
Test(request, nul_byte)
{
	static const char in_string[] = "{\"v\":1,\"cmd\":\"status\",\"name\":\"a\0b\"}";
	static const char outside[] = "{\"v\":1,\"cmd\":\"status\"}\0";
	static const char middle[] = "{\"v\":1,\0\"cmd\":\"status\"}";

	fails_len(in_string, sizeof(in_string) - 1, SD_ERR_BAD_JSON,
		  "invalid JSON at byte 32: NUL byte");
	fails_len(outside, sizeof(outside) - 1, SD_ERR_BAD_JSON,
		  "invalid JSON at byte 23: NUL byte");
	fails_len(middle, sizeof(middle) - 1, SD_ERR_BAD_JSON, "invalid JSON at byte 8: NUL byte");
}

/* Nesting is bounded at 32 levels, the request object included. */
Test(request, depth)
{
	char line[256];
	int n;

	/* 31 arrays in the id: 32 levels. */
	n = snprintf(line, sizeof(line), "{\"v\":1,\"cmd\":\"status\",\"id\":%.*s%.*s}", 31,
		     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", 31,
		     "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
	cr_assert_lt(n, (int)sizeof(line));
	ok(line);
	cr_assert(json_object_is_type(req.id, json_type_array));
	/* 32 arrays: 33 levels. */
	snprintf(line, sizeof(line), "{\"v\":1,\"cmd\":\"status\",\"id\":%.*s%.*s}", 32,
		 "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", 32,
		 "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
	fails(line, SD_ERR_BAD_JSON, "invalid JSON at byte 59: nested more than 32 deep");
	/* Objects count as arrays do. */
	snprintf(line, sizeof(line), "{\"v\":1,\"cmd\":\"status\",\"id\":");
	for (int i = 0; i < 32; i++)
		strcat(line, "{\"a\":");
	strcat(line, "1");
	for (int i = 0; i < 32; i++)
		strcat(line, "}");
	strcat(line, "}");
	fails(line, SD_ERR_BAD_JSON, NULL);
}

/* A line of SD_REQUEST_MAX - 1 bytes (SD_REQUEST_MAX with its newline) is
 * taken; one more is too_large. */
Test(request, size_limit)
{
	static const char head[] = "{\"v\":1,\"cmd\":\"status\",\"id\":\"";
	size_t len = SD_REQUEST_MAX - 1;
	char *line = malloc(SD_REQUEST_MAX + 1);

	cr_assert_not_null(line);
	memcpy(line, head, sizeof(head) - 1);
	memset(line + sizeof(head) - 1, 'x', len - (sizeof(head) - 1) - 2);
	memcpy(line + len - 2, "\"}", 3);
	cr_assert_eq(strlen(line), len);
	ok(line);
	cr_assert_eq((size_t)json_object_get_string_len(req.id), len - sizeof(head) - 1);

	memmove(line + sizeof(head), line + sizeof(head) - 1, len - (sizeof(head) - 1) + 1);
	cr_assert_eq(strlen(line), len + 1);
	fails(line, SD_ERR_TOO_LARGE, "request longer than 65536 bytes");
	free(line);
}

/* v is required and must be the integer 1; it is checked before cmd. */
Test(request, version)
{
	fails("{\"cmd\":\"status\"}", SD_ERR_BAD_VERSION,
	      "missing \"v\" (the protocol version: 1)");
	fails("{\"v\":2,\"cmd\":\"status\"}", SD_ERR_BAD_VERSION,
	      "unsupported protocol version 2 (spawnd speaks version 1)");
	fails("{\"v\":\"1\",\"cmd\":\"status\"}", SD_ERR_BAD_VERSION,
	      "unsupported protocol version \"1\" (spawnd speaks version 1)");
	fails("{\"v\":1.0,\"cmd\":\"status\"}", SD_ERR_BAD_VERSION,
	      "unsupported protocol version 1.0 (spawnd speaks version 1)");
	fails("{\"v\":true,\"cmd\":\"status\"}", SD_ERR_BAD_VERSION, NULL);
	fails("{\"v\":null,\"cmd\":\"status\"}", SD_ERR_BAD_VERSION, NULL);
	fails("{\"v\":0,\"cmd\":\"status\"}", SD_ERR_BAD_VERSION, NULL);
	fails("{\"v\":18446744073709551617,\"cmd\":\"status\"}", SD_ERR_BAD_VERSION, NULL);
	/* A later version may have commands this one does not know. */
	fails("{\"v\":2,\"cmd\":\"frobnicate\",\"x\":1}", SD_ERR_BAD_VERSION, NULL);
	fails("{\"v\":2}", SD_ERR_BAD_VERSION, NULL);
	/* A long value is cut, on a character. */
	fails("{\"v\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	      "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	      "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}",
	      SD_ERR_BAD_VERSION,
	      "unsupported protocol version "
	      "\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	      "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	      "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9... (spawnd speaks version 1)");
}

/* cmd is a required string naming a command, exactly (case included). */
Test(request, cmd)
{
	fails("{\"v\":1}", SD_ERR_BAD_REQUEST, "missing \"cmd\"");
	fails("{\"v\":1,\"name\":\"x\"}", SD_ERR_BAD_REQUEST, "missing \"cmd\"");
	fails("{\"v\":1,\"cmd\":1}", SD_ERR_BAD_REQUEST,
	      "\"cmd\": expected a string, got an integer");
	fails("{\"v\":1,\"cmd\":null}", SD_ERR_BAD_REQUEST, "\"cmd\": expected a string, got null");
	fails("{\"v\":1,\"cmd\":[\"status\"]}", SD_ERR_BAD_REQUEST,
	      "\"cmd\": expected a string, got an array");
	fails("{\"v\":1,\"cmd\":\"frobnicate\"}", SD_ERR_UNKNOWN_CMD,
	      "unknown command \"frobnicate\"");
	fails("{\"v\":1,\"cmd\":\"STATUS\"}", SD_ERR_UNKNOWN_CMD, "unknown command \"STATUS\"");
	fails("{\"v\":1,\"cmd\":\"\"}", SD_ERR_UNKNOWN_CMD, "unknown command \"\"");
	fails("{\"v\":1,\"cmd\":\"status \"}", SD_ERR_UNKNOWN_CMD, "unknown command \"status \"");
	fails("{\"v\":1,\"cmd\":\"stat\"}", SD_ERR_UNKNOWN_CMD, "unknown command \"stat\"");
	/* Not "status", whatever the C string says. */
	fails("{\"v\":1,\"cmd\":\"status\\u0000\"}", SD_ERR_UNKNOWN_CMD, NULL);
	/* The unknown command is reported before its arguments are looked at. */
	fails("{\"v\":1,\"cmd\":\"frobnicate\",\"names\":5}", SD_ERR_UNKNOWN_CMD, NULL);
}

/* A key the command does not take is bad_request, named with the command:
 * unknown everywhere, or an argument of another command. */
Test(request, unknown_keys)
{
	static const struct {
		const char *line, *message;
	} t[] = {
		{ "{\"v\":1,\"cmd\":\"status\",\"foo\":1}", "unknown key \"foo\" for \"status\"" },
		{ "{\"v\":1,\"cmd\":\"status\",\"follow\":true}",
		  "unknown key \"follow\" for \"status\"" },
		{ "{\"v\":1,\"cmd\":\"status\",\"names\":[\"a\"]}",
		  "unknown key \"names\" for \"status\"" },
		{ "{\"v\":1,\"cmd\":\"logs\",\"name\":\"a\",\"wait\":true}",
		  "unknown key \"wait\" for \"logs\"" },
		{ "{\"v\":1,\"cmd\":\"start\",\"names\":[\"a\"],\"name\":\"a\"}",
		  "unknown key \"name\" for \"start\"" },
		{ "{\"v\":1,\"cmd\":\"stop\",\"names\":[\"a\"],\"signal\":\"TERM\"}",
		  "unknown key \"signal\" for \"stop\"" },
		{ "{\"v\":1,\"cmd\":\"signal\",\"names\":[\"a\"],\"signal\":1,\"wait\":true}",
		  "unknown key \"wait\" for \"signal\"" },
		{ "{\"v\":1,\"cmd\":\"signal\",\"names\":[\"a\"],\"signal\":1,\"timeout_ms\":1}",
		  "unknown key \"timeout_ms\" for \"signal\"" },
		{ "{\"v\":1,\"cmd\":\"events\",\"lines\":1}",
		  "unknown key \"lines\" for \"events\"" },
		{ "{\"v\":1,\"cmd\":\"status\",\"V\":1}", "unknown key \"V\" for \"status\"" },
		{ "{\"v\":1,\"cmd\":\"status\",\"\":1}", "unknown key \"\" for \"status\"" },
		{ "{\"v\":1,\"cmd\":\"status\","
		  "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\":1}",
		  "unknown key \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...\" "
		  "for \"status\"" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		fails(t[i].line, SD_ERR_BAD_REQUEST, t[i].message);
}

/* A key given twice is refused (json-c would keep the last silently). */
Test(request, duplicate_keys)
{
	fails("{\"v\":1,\"cmd\":\"status\",\"cmd\":\"shutdown\"}", SD_ERR_BAD_REQUEST,
	      "duplicate key \"cmd\"");
	fails("{\"v\":1,\"v\":1,\"cmd\":\"status\"}", SD_ERR_BAD_REQUEST, "duplicate key \"v\"");
	fails("{\"v\":1,\"cmd\":\"logs\",\"name\":\"a\",\"lines\":1,\"lines\":2}",
	      SD_ERR_BAD_REQUEST, "duplicate key \"lines\"");
	/* Spelled two ways: counted, not named. */
	fails("{\"v\":1,\"cmd\":\"status\",\"\\u0063md\":\"shutdown\"}", SD_ERR_BAD_REQUEST,
	      "a key appears more than once");
	/* Inside the id, keys are the client's business. */
	ok("{\"v\":1,\"cmd\":\"status\",\"id\":{\"a\":1,\"a\":2}}");
}

/* Each argument of the wrong type: bad_request naming the key and the type
 * expected and got. */
Test(request, wrong_types)
{
	static const struct {
		const char *line, *message;
	} t[] = {
		{ "{\"v\":1,\"cmd\":\"status\",\"name\":5}",
		  "\"name\": expected a string, got an integer" },
		{ "{\"v\":1,\"cmd\":\"logs\",\"name\":null}",
		  "\"name\": expected a string, got null" },
		{ "{\"v\":1,\"cmd\":\"logs\",\"name\":\"a\",\"lines\":\"5\"}",
		  "\"lines\": expected an integer, got a string" },
		{ "{\"v\":1,\"cmd\":\"logs\",\"name\":\"a\",\"lines\":5.0}",
		  "\"lines\": expected an integer, got a fraction" },
		{ "{\"v\":1,\"cmd\":\"logs\",\"name\":\"a\",\"follow\":\"yes\"}",
		  "\"follow\": expected true or false, got a string" },
		{ "{\"v\":1,\"cmd\":\"logs\",\"name\":\"a\",\"follow\":1}",
		  "\"follow\": expected true or false, got an integer" },
		{ "{\"v\":1,\"cmd\":\"start\",\"names\":[\"a\"],\"wait\":null}",
		  "\"wait\": expected true or false, got null" },
		{ "{\"v\":1,\"cmd\":\"start\",\"names\":[\"a\"],\"timeout_ms\":{}}",
		  "\"timeout_ms\": expected an integer, got an object" },
		{ "{\"v\":1,\"cmd\":\"start\",\"names\":[\"a\"],\"timeout_ms\":1e3}",
		  "\"timeout_ms\": expected an integer, got a fraction" },
		{ "{\"v\":1,\"cmd\":\"start\",\"names\":\"a\"}",
		  "\"names\": expected an array of strings, got a string" },
		{ "{\"v\":1,\"cmd\":\"stop\",\"names\":{\"a\":1}}",
		  "\"names\": expected an array of strings, got an object" },
		{ "{\"v\":1,\"cmd\":\"restart\",\"names\":[\"a\",1]}",
		  "\"names\": expected an array of strings, but [1] is an integer" },
		{ "{\"v\":1,\"cmd\":\"signal\",\"names\":[[\"a\"]],\"signal\":1}",
		  "\"names\": expected an array of strings, but [0] is an array" },
		{ "{\"v\":1,\"cmd\":\"start\",\"names\":[\"a\",null]}",
		  "\"names\": expected an array of strings, but [1] is null" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		fails(t[i].line, SD_ERR_BAD_REQUEST, t[i].message);
}

/* Integers outside their range are refused, the value named. */
Test(request, ranges)
{
	static const struct {
		const char *line, *message;
	} t[] = {
		{ "{\"v\":1,\"cmd\":\"logs\",\"name\":\"a\",\"lines\":-1}",
		  "\"lines\": -1 is out of range (0 to 100000)" },
		{ "{\"v\":1,\"cmd\":\"logs\",\"name\":\"a\",\"lines\":100001}",
		  "\"lines\": 100001 is out of range (0 to 100000)" },
		{ "{\"v\":1,\"cmd\":\"logs\",\"name\":\"a\",\"lines\":9223372036854775808}",
		  "\"lines\": 9223372036854775808 is out of range (0 to 100000)" },
		{ "{\"v\":1,\"cmd\":\"start\",\"names\":[\"a\"],\"timeout_ms\":-1}",
		  "\"timeout_ms\": -1 is out of range (0 to 3600000)" },
		{ "{\"v\":1,\"cmd\":\"start\",\"names\":[\"a\"],\"timeout_ms\":3600001}",
		  "\"timeout_ms\": 3600001 is out of range (0 to 3600000)" },
		{ "{\"v\":1,\"cmd\":\"start\",\"names\":[\"a\"],"
		  "\"timeout_ms\":18446744073709551615}",
		  "\"timeout_ms\": 18446744073709551615 is out of range (0 to 3600000)" },
		{ "{\"v\":1,\"cmd\":\"start\",\"names\":[\"a\"],"
		  "\"timeout_ms\":-9223372036854775808}",
		  "\"timeout_ms\": -9223372036854775808 is out of range (0 to 3600000)" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		fails(t[i].line, SD_ERR_BAD_REQUEST, t[i].message);
}

/* names: 1 to SD_NAMES_MAX of them. */
Test(request, names_count)
{
	size_t size = 64 + (SD_NAMES_MAX + 1) * 8;
	char *line = malloc(size);
	size_t len;

	fails("{\"v\":1,\"cmd\":\"start\",\"names\":[]}", SD_ERR_BAD_REQUEST,
	      "\"names\": expected 1 to 1024 names, got 0");
	cr_assert_not_null(line);
	len = (size_t)sprintf(line, "{\"v\":1,\"cmd\":\"stop\",\"names\":[");
	for (int i = 0; i < SD_NAMES_MAX; i++)
		len += (size_t)sprintf(line + len, "%s\"w%d\"", i ? "," : "", i);
	strcpy(line + len, "]}");
	ok(line);
	cr_assert_eq(req.nnames, SD_NAMES_MAX);
	cr_assert_str_eq(req.names[0], "w0");
	cr_assert_str_eq(req.names[SD_NAMES_MAX - 1], "w1023");

	len += (size_t)sprintf(line + len, ",\"w%d\"", SD_NAMES_MAX);
	strcpy(line + len, "]}");
	fails(line, SD_ERR_BAD_REQUEST, "\"names\": expected 1 to 1024 names, got 1025");
	free(line);
}

/* A name is 1 to SD_NAME_MAX bytes without NUL ("" is the root, for
 * "name" only); the element at fault is named. */
Test(request, name_limits)
{
	char *line = malloc(SD_NAME_MAX + 128), *name = malloc(SD_NAME_MAX + 2);

	cr_assert_not_null(line);
	cr_assert_not_null(name);
	memset(name, 'n', SD_NAME_MAX);
	name[SD_NAME_MAX] = '\0';
	sprintf(line, "{\"v\":1,\"cmd\":\"status\",\"name\":\"%s\"}", name);
	ok(line);
	cr_assert_eq(strlen(req.name), SD_NAME_MAX);
	sprintf(line, "{\"v\":1,\"cmd\":\"start\",\"names\":[\"a\",\"%s\"]}", name);
	ok(line);
	cr_assert_eq(strlen(req.names[1]), SD_NAME_MAX);

	strcat(name, "n");
	sprintf(line, "{\"v\":1,\"cmd\":\"logs\",\"name\":\"%s\"}", name);
	fails(line, SD_ERR_BAD_REQUEST, "\"name\": name longer than 4095 bytes");
	sprintf(line, "{\"v\":1,\"cmd\":\"start\",\"names\":[\"a\",\"%s\"]}", name);
	fails(line, SD_ERR_BAD_REQUEST, "\"names\"[1]: name longer than 4095 bytes");

	fails("{\"v\":1,\"cmd\":\"stop\",\"names\":[\"a\",\"\"]}", SD_ERR_BAD_REQUEST,
	      "\"names\"[1]: empty name (the root is \"/\")");
	fails("{\"v\":1,\"cmd\":\"stop\",\"names\":[\"a\",\"b\",\"c\\u0000d\"]}",
	      SD_ERR_BAD_REQUEST, "\"names\"[2]: name contains a NUL character");
	fails("{\"v\":1,\"cmd\":\"status\",\"name\":\"a\\u0000\"}", SD_ERR_BAD_REQUEST,
	      "\"name\": name contains a NUL character");
	free(line);
	free(name);
}

/* Escapes in names are decoded. */
Test(request, name_escapes)
{
	ok("{\"v\":1,\"cmd\":\"start\","
	   "\"names\":[\"a\\/b\",\"\\u00e9t\\u00e9\",\"\\ud83d\\ude00\"]}");
	cr_assert_str_eq(req.names[0], "a/b");
	cr_assert_str_eq(req.names[1], "\xc3\xa9t\xc3\xa9");
	cr_assert_str_eq(req.names[2], "\xf0\x9f\x98\x80");
}

/* The first thing wrong, in the order written, is the one reported. */
Test(request, first_error_wins)
{
	fails("{\"v\":1,\"cmd\":\"start\",\"names\":[],\"bogus\":1}", SD_ERR_BAD_REQUEST,
	      "\"names\": expected 1 to 1024 names, got 0");
	fails("{\"v\":1,\"cmd\":\"start\",\"bogus\":1,\"names\":[]}", SD_ERR_BAD_REQUEST,
	      "unknown key \"bogus\" for \"start\"");
	/* Arguments are checked before required ones are missed. */
	fails("{\"v\":1,\"cmd\":\"signal\",\"signal\":\"NOPE\"}", SD_ERR_BAD_REQUEST,
	      "\"signal\": unknown signal \"NOPE\" (a name such as \"TERM\", or 1 to 64)");
}

/* ---- ids and responses ------------------------------------------------------ */

/* Any JSON value is an id, echoed as written in the ok response. */
Test(request, id_echo_ok)
{
	static const char *const ids[] = {
		"7", "-3", "\"abc\"", "{\"a\":[1,2,{}]}",
		"[]", "false", "1.5e300", "1e999",
		"-0.0", "\"a/b\"", "\"\\\"q\\\"\"", "\"\xc3\xa9\"",
		"{}", "\"\"", "1E+2", "123456789012345678",
		"[null,true]",
	};
	char line[256], want[256];

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		snprintf(line, sizeof(line), "{\"id\":%s,\"v\":1,\"cmd\":\"status\"}", ids[i]);
		ok(line);
		cr_assert(req.has_id);
		snprintf(want, sizeof(want), "{\"v\":1,\"id\":%s,\"ok\":true}\n", ids[i]);
		assert_line(sd_response_ok(&req), want);
	}
}

/* What JSON can write two ways comes back in json-c's way: the same value. */
Test(request, id_echo_normalised)
{
	ok("{\"v\":1,\"cmd\":\"status\",\"id\":\"\\u00e9\\/\\t\\u0001\"}");
	assert_line(sd_response_ok(&req), "{\"v\":1,\"id\":\"\xc3\xa9/\\t\\u0001\",\"ok\":true}\n");
	ok("{\"v\":1,\"cmd\":\"status\",\"id\":{ \"a\" : [ 1 , 2 ] }}");
	assert_line(sd_response_ok(&req), "{\"v\":1,\"id\":{\"a\":[1,2]},\"ok\":true}\n");
	ok("{\"v\":1,\"cmd\":\"status\",\"id\":-0}");
	assert_line(sd_response_ok(&req), "{\"v\":1,\"id\":0,\"ok\":true}\n");
}

/* "id":null is an id: echoed. */
Test(request, id_null)
{
	ok("{\"v\":1,\"cmd\":\"status\",\"id\":null}");
	cr_assert(req.has_id);
	cr_assert_null(req.id);
	assert_line(sd_response_ok(&req), "{\"v\":1,\"id\":null,\"ok\":true}\n");
	assert_line(sd_response_error(&req, SD_ERR_NOT_FOUND, "x"),
		    "{\"v\":1,\"id\":null,\"ok\":false,\"error\":{\"code\":\"not_found\","
		    "\"message\":\"x\"}}\n");
}

/* Once the line is a JSON object, every error echoes its id, whatever comes
 * after it; nothing else outlives the failure. */
Test(request, id_echo_errors)
{
	static const struct {
		const char *line, *code;
	} t[] = {
		{ "{\"v\":2,\"id\":5,\"cmd\":\"status\"}", SD_ERR_BAD_VERSION },
		{ "{\"id\":5,\"cmd\":\"status\"}", SD_ERR_BAD_VERSION },
		{ "{\"v\":1,\"id\":5}", SD_ERR_BAD_REQUEST },
		{ "{\"v\":1,\"cmd\":\"nope\",\"id\":5}", SD_ERR_UNKNOWN_CMD },
		{ "{\"v\":1,\"cmd\":\"status\",\"x\":0,\"id\":5}", SD_ERR_BAD_REQUEST },
		{ "{\"v\":1,\"cmd\":\"start\",\"id\":5,\"names\":[\"a\",\"\"]}",
		  SD_ERR_BAD_REQUEST },
		{ "{\"v\":1,\"cmd\":\"start\",\"names\":[\"a\",\"b\",\"\"],\"id\":5}",
		  SD_ERR_BAD_REQUEST },
		{ "{\"v\":1,\"cmd\":\"logs\",\"id\":5,\"name\":\"a\",\"lines\":-1}",
		  SD_ERR_BAD_REQUEST },
		{ "{\"v\":1,\"cmd\":\"status\",\"id\":5,\"id\":5}", SD_ERR_BAD_REQUEST },
	};
	char want[256], *line;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		fails(t[i].line, t[i].code, NULL);
		cr_assert(req.has_id, "%s", t[i].line);
		cr_assert_eq(json_object_get_int(req.id), 5, "%s", t[i].line);
		line = line_of(sd_response_error(&req, err.code, err.message));
		snprintf(want, sizeof(want),
			 "{\"v\":1,\"id\":5,\"ok\":false,\"error\":{\"code\":\"%s\",", t[i].code);
		cr_assert(!strncmp(line, want, strlen(want)), "%s: %s", t[i].line, line);
		free(line);
	}
}

/* Without an id, no "id" in the response; with no request at all (bad
 * JSON), none either. */
Test(request, no_id)
{
	ok("{\"v\":1,\"cmd\":\"reload\"}");
	assert_line(sd_response_ok(&req), "{\"v\":1,\"ok\":true}\n");
	fails("{\"v\":1,\"id\":3,\"cmd\":\"status\"", SD_ERR_BAD_JSON, NULL);
	cr_assert_not(req.has_id);
	assert_line(sd_response_error(&req, err.code, err.message),
		    "{\"v\":1,\"ok\":false,\"error\":{\"code\":\"bad_json\",\"message\":"
		    "\"invalid JSON at byte 29: unexpected end of data\"}}\n");
	assert_line(sd_response_error(NULL, SD_ERR_TOO_LARGE, "request longer than 65536 bytes"),
		    "{\"v\":1,\"ok\":false,\"error\":{\"code\":\"too_large\",\"message\":\"request "
		    "longer than 65536 bytes\"}}\n");
}

/* A response stays valid after its request is freed: it holds the id. */
Test(request, response_outlives_request)
{
	json_object *resp;

	ok("{\"v\":1,\"cmd\":\"status\",\"id\":{\"seq\":[1,2,3]}}");
	resp = sd_response_ok(&req);
	sd_request_free(&req);
	cr_assert_null(req.id);
	assert_line(resp, "{\"v\":1,\"id\":{\"seq\":[1,2,3]},\"ok\":true}\n");
}

/* Results are added after "ok"; error details inside "error". */
Test(request, response_results)
{
	json_object *resp, *results, *r, *e;

	ok("{\"v\":1,\"id\":\"x\",\"cmd\":\"start\",\"names\":[\"a/b\"]}");
	resp = sd_response_ok(&req);
	results = json_object_new_array();
	r = json_object_new_object();
	json_object_object_add(r, "name", json_object_new_string(req.names[0]));
	json_object_object_add(r, "state", json_object_new_string("ready"));
	json_object_array_add(results, r);
	json_object_object_add(resp, "results", results);
	assert_line(resp, "{\"v\":1,\"id\":\"x\",\"ok\":true,\"results\":[{\"name\":\"a/b\","
			  "\"state\":\"ready\"}]}\n");

	resp = sd_response_error(&req, SD_ERR_CONFIG, "2 errors");
	cr_assert(json_object_object_get_ex(resp, "error", &e));
	json_object_object_add(e, "errors", json_object_new_array());
	assert_line(resp, "{\"v\":1,\"id\":\"x\",\"ok\":false,\"error\":{\"code\":\"config\","
			  "\"message\":\"2 errors\",\"errors\":[]}}\n");
}

/* Lines escape what must be escaped, and only that: quotes, backslashes and
 * control characters (so a message can never break the line), not "/" or
 * UTF-8. */
Test(request, json_line_escapes)
{
	assert_line(sd_response_error(NULL, SD_ERR_INTERNAL,
				      "a\nb\r\t\"q\" \\ /x \x01\x1f \xc3\xa9 \xe2\x98\x83"),
		    "{\"v\":1,\"ok\":false,\"error\":{\"code\":\"internal\",\"message\":"
		    "\"a\\nb\\r\\t\\\"q\\\" \\\\ /x \\u0001\\u001f \xc3\xa9 \xe2\x98\x83\"}}\n");
}

/* Every error code the protocol defines makes a response. */
Test(request, every_error_code)
{
	static const char *const codes[] = {
		SD_ERR_BAD_JSON, SD_ERR_TOO_LARGE, SD_ERR_BAD_VERSION, SD_ERR_BAD_REQUEST,
		SD_ERR_UNKNOWN_CMD, SD_ERR_PERMISSION, SD_ERR_NOT_FOUND, SD_ERR_NOT_A_WORKER,
		SD_ERR_TIMEOUT, SD_ERR_FAILED, SD_ERR_BUSY, SD_ERR_CONFIG,
		SD_ERR_INTERNAL,
	};
	static const char *const spelled[] = {
		"bad_json",
		"too_large",
		"bad_version",
		"bad_request",
		"unknown_command",
		"permission_denied",
		"not_found",
		"not_a_worker",
		"timeout",
		"failed",
		"busy",
		"config",
		"internal",
	};
	char want[256];

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		cr_assert_str_eq(codes[i], spelled[i]);
		snprintf(want, sizeof(want),
			 "{\"v\":1,\"ok\":false,\"error\":{\"code\":\"%s\",\"message\":\"m\"}}\n",
			 spelled[i]);
		assert_line(sd_response_error(NULL, codes[i], "m"), want);
	}
}

/* An event: v, event, time_ms (now, wall clock, ms) and name, in that
 * order; the rest added after. */
Test(request, event)
{
	struct timespec ts;
	json_object *ev, *t;
	long long before, after, at;
	char *line, want[128];

	clock_gettime(CLOCK_REALTIME, &ts);
	before = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	ev = sd_event_new("started", "pipeline/consumer");
	clock_gettime(CLOCK_REALTIME, &ts);
	after = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	cr_assert_not_null(ev);
	cr_assert(json_object_object_get_ex(ev, "time_ms", &t));
	cr_assert(json_object_is_type(t, json_type_int));
	at = (long long)json_object_get_int64(t);
	cr_assert(at >= before && at <= after, "%lld not in [%lld, %lld]", at, before, after);
	json_object_object_add(ev, "pid", json_object_new_int(1234));
	line = line_of(ev);
	snprintf(want, sizeof(want),
		 "{\"v\":1,\"event\":\"started\",\"time_ms\":%lld,\"name\":\"pipeline/consumer\","
		 "\"pid\":1234}\n",
		 at);
	cr_assert_str_eq(line, want);
	free(line);
}

/* An event with no name is the root's: ""; one with no type is none. */
Test(request, event_root)
{
	json_object *ev = sd_event_new("reloaded", NULL), *n;

	cr_assert_not_null(ev);
	cr_assert(json_object_object_get_ex(ev, "name", &n));
	cr_assert_str_eq(json_object_get_string(n), "");
	json_object_put(ev);
	cr_assert_null(sd_event_new(NULL, "x"));
}

/* sd_request_free takes a zeroed request, and one freed already. */
Test(request, free_twice)
{
	struct sd_request r = {0};

	sd_request_free(&r);
	sd_request_free(NULL);
	ok("{\"v\":1,\"id\":[1],\"cmd\":\"start\",\"names\":[\"a\",\"b\"]}");
	sd_request_free(&req);
	cr_assert_null(req.names);
	cr_assert_eq(req.nnames, 0);
	sd_request_free(&req);
}

/* ---- signals ---------------------------------------------------------------- */

TestSuite(signal, .timeout = 10);

/* Names from sigabbrev_np with or without SIG, in any case; the usual
 * aliases; decimal 1 to 64. */
Test(signal, parse)
{
	static const struct {
		const char *s;
		int want;
	} t[] = {
		{ "TERM", SIGTERM }, { "SIGTERM", SIGTERM }, { "sigterm", SIGTERM },
		{ "Term", SIGTERM }, { "KILL", SIGKILL }, { "HUP", SIGHUP }, { "usr2", SIGUSR2 },
		{ "SIGWINCH", SIGWINCH }, { "SYS", SIGSYS }, { "POLL", SIGIO }, { "IO", SIGIO },
		{ "SIGIOT", SIGABRT }, { "CLD", SIGCHLD }, { "STKFLT", 16 }, { "15", 15 },
		{ "SIG15", 15 }, { "1", 1 }, { "64", 64 }, { "sig64", 64 }, { "015", 15 },
		{ "42", 42 }, { "SIG42", 42 },
	};
	static const char *const bad[] = {
		"", "SIG", "0", "SIG0",
		"65", "100", "-1", "+1",
		" 15", "15 ", "1a", "TERMX",
		"SIGSIGTERM", "SIG TERM", "S", "99999999999999999999",
		"RTMIN", "TERM\n",
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		cr_assert_eq(sd_signal_parse(t[i].s), t[i].want, "%s: %d", t[i].s,
			     sd_signal_parse(t[i].s));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(sd_signal_parse(bad[i]), -EINVAL, "\"%s\": %d", bad[i],
			     sd_signal_parse(bad[i]));
	cr_assert_eq(sd_signal_parse(NULL), -EINVAL);
}

/* "SIGTERM"; "SIG42" where there is no name. */
Test(signal, str)
{
	char buf[16];

	cr_assert_str_eq(sd_signal_str(SIGTERM, buf), "SIGTERM");
	cr_assert_str_eq(sd_signal_str(SIGKILL, buf), "SIGKILL");
	cr_assert_str_eq(sd_signal_str(SIGSEGV, buf), "SIGSEGV");
	cr_assert_str_eq(sd_signal_str(SIGVTALRM, buf), "SIGVTALRM");
	cr_assert_str_eq(sd_signal_str(42, buf), "SIG42");
	cr_assert_str_eq(sd_signal_str(64, buf), "SIG64");
	cr_assert_str_eq(sd_signal_str(0, buf), "SIG0");
	cr_assert_str_eq(sd_signal_str(-2147483647 - 1, buf), "SIG-2147483648");
	cr_assert_eq(sd_signal_str(1, buf), buf);
}

/* What sd_signal_str writes, sd_signal_parse reads back, for every signal,
 * with and without "SIG". */
Test(signal, round_trip)
{
	char buf[16];

	for (int sig = 1; sig <= 64; sig++) {
		sd_signal_str(sig, buf);
		cr_assert_eq(strncmp(buf, "SIG", 3), 0, "%s", buf);
		cr_assert_eq(sd_signal_parse(buf), sig, "%s", buf);
		cr_assert_eq(sd_signal_parse(buf + 3), sig, "%s", buf + 3);
	}
}
