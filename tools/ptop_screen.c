/* SPDX-License-Identifier: MIT */
/*
 * ptop's interactive screen (ncurses): the header, the tree with a
 * selection that follows its row across refreshes, a detail pane, prompts
 * for the actions (each confirmed, each sent on the control socket), the
 * logs of a worker, help. One poll loop serves the keyboard and every
 * source, so that no source can hold the screen.
 */
#define _GNU_SOURCE
#include <curses.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ptop.h"
#include "request.h"

#define DETAIL_MAX 64
#define TICK_MS    250 /* at most this between looks at the sources' deadlines */

enum mode { MODE_TREE, MODE_CONFIRM, MODE_INPUT, MODE_HELP, MODE_LOGS };
enum input_for { INPUT_FILTER, INPUT_SIGNAL };

struct screen {
	struct view *v;
	struct rows rows;
	size_t sel, top;               /* selected row, first row shown */
	char sel_key[PATH_MAX + 32];   /* the selected row's key: kept across refreshes */
	enum mode mode;
	enum input_for input_for;
	char input[256];
	char filter[256];
	char act_cmd[16];              /* start, stop, restart, signal */
	char act_name[PATH_MAX];
	int act_sig;
	char logs_of[PATH_MAX];        /* MODE_LOGS: the worker */
	char note[512];                /* a message of the screen's own */
	bool color;
	bool was_up;
};

/* SIGINT, SIGTERM: leave cleanly (the terminal restored). */
static volatile sig_atomic_t quit_signal;

static void on_quit(int sig)
{
	quit_signal = sig;
}

static const char *const sort_cycle[] = { "reductions", "mailbox", "heap", "pid", "name" };

/* ---- drawing ----------------------------------------------------------------------------- */

static int color_attr(const struct screen *s, enum row_color c)
{
	int bold = c == COL_STALLED || c == COL_FAILED ? (int)A_BOLD : 0;

	if (c == COL_DIM)
		return (int)A_DIM;
	if (!s->color || c == COL_NONE)
		return bold;
	return (int)COLOR_PAIR(c) | bold;
}

static void put_line(int y, const char *text, int attr)
{
	char *fit = NULL;
	size_t len;
	FILE *f = open_memstream(&fit, &len);

	if (!f)
		return;
	put_fit(f, false, text, (size_t)COLS, CUT_END, false);
	if (fclose(f) == 0) {
		attron(attr);
		mvaddstr(y, 0, fit);
		attroff(attr);
	}
	free(fit);
	clrtoeol();
}

/* Like put_line, for text that may hold UTF-8 (cut by columns, not bytes). */
static void put_text(const struct screen *s, int y, const char *text, int attr)
{
	char *fit = NULL;
	size_t len;
	FILE *f = open_memstream(&fit, &len);

	if (!f)
		return;
	put_fit(f, s->v->utf8, text, (size_t)COLS - 1, CUT_END, false);
	if (fclose(f) == 0) {
		move(y, 0);
		clrtoeol();
		attron(attr);
		mvaddstr(y, 0, fit);
		attroff(attr);
	}
	free(fit);
}

static void draw_row(const struct screen *s, int y, const struct row *row,
		     const struct layout *lay, bool selected)
{
	char *cells[CELLS];
	int base = selected ? (int)A_REVERSE : 0;

	move(y, 0);
	clrtoeol();
	if (row_cells(s->v, row, lay, true, cells) < 0)
		return;
	move(y, 0);
	for (int i = 0; i < CELLS; i++) {
		int attr = base;

		if (!row)
			attr |= (int)A_BOLD;
		else if (i == CELL_STATE)
			attr |= color_attr(s, row->color);
		else if (row->color == COL_DIM)
			attr |= (int)A_DIM;

		attron(attr);
		addstr(cells[i]);
		if (i + 1 < CELLS && !(row && row->wide && i >= CELL_STATE))
			addch(' ');
		attroff(attr);
		free(cells[i]);
	}
	if (selected) {
		/* The bar reaches the right edge. */
		int yy, x;

		getyx(stdscr, yy, x);
		(void)yy;
		attron(A_REVERSE);
		for (; x < COLS - 1; x++)
			addch(' ');
		attroff(A_REVERSE);
	}
}

static int detail_height(void)
{
	return LINES >= 20 ? (LINES / 3 < 12 ? LINES / 3 : 12) : 0;
}

/* Rows of the list: below the header (3 lines) and the titles, above the
 * detail pane and the key line. */
static int list_height(void)
{
	int h = LINES - 4 - detail_height() - 1;

	return h > 1 ? h : 1;
}

static void draw_help(void)
{
	static const char *const lines[] = {
		"ptop: keys",
		"",
		"  Up, k / Down, j    move           PgUp, PgDn, g, G  page, ends",
		"  Enter, Space       fold or unfold Left / Right      fold / unfold",
		"  s                  sort green processes: reductions, mailbox, heap, pid, name",
		"  /                  filter units and green processes by name (empty: none)",
		"  r / S / t          restart / stop / start the selected unit (asks first)",
		"  K                  send a signal to the selected unit (asks which, then asks)",
		"  l                  follow the selected worker's log",
		"  ?                  this help        q                 quit",
		"",
		"States: ready, running (green), starting, stopping (yellow), backoff (magenta),",
		"stalled (bold red), failed (red), stopped (dim). NO_COLOR turns colours off.",
		"",
		"Any key to go back.",
	};

	erase();
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]) && (int)i < LINES; i++)
		put_line((int)i, lines[i], i == 0 ? A_BOLD : 0);
}

static void draw_logs(struct screen *s)
{
	json_object *lines = !strcmp(s->v->link->logs_for, s->logs_of) ?
				     jarr(s->v->link->logs, "lines") :
				     NULL;
	size_t n = jlen(lines), h = LINES > 2 ? (size_t)LINES - 2 : 1;
	size_t first = n > h ? n - h : 0; /* the last lines that fit */
	char title[PATH_MAX + 64];

	erase();
	textf(title, sizeof(title), "logs of %s (l, q or Esc: back)%s", s->logs_of,
	      lines ? "" : ": asking...");
	put_line(0, title, A_BOLD);
	for (size_t i = first; i < n; i++)
		put_text(s, 1 + (int)(i - first), json_object_get_string(jidx(lines, i)), 0);
}

static void draw(struct screen *s)
{
	struct layout lay;
	struct header h;
	char (*detail)[512] = NULL;
	int lh = list_height(), dh = detail_height(), y;
	const char *news = s->note[0] ? s->note : s->v->link ? s->v->link->news : "";
	char prompt[PATH_MAX + 128];

	if (s->mode == MODE_HELP) {
		draw_help();
		refresh();
		return;
	}
	if (s->mode == MODE_LOGS) {
		draw_logs(s);
		refresh();
		return;
	}
	erase();
	if (LINES < 8 || COLS < 40) {
		put_line(0, "ptop: the terminal is too small (40x8 at least)", A_BOLD);
		refresh();
		return;
	}
	header_build(s->v, &h);
	put_text(s, 0, h.line1, A_BOLD);
	put_text(s, 1, h.line2, 0);
	if (s->mode == MODE_CONFIRM) {
		if (!strcmp(s->act_cmd, "signal")) {
			char sig[16];

			textf(prompt, sizeof(prompt), "send %s to %s? (y/n)",
				 sd_signal_str(s->act_sig, sig), shown(s->act_name));
		} else {
			textf(prompt, sizeof(prompt), "%s %s? (y/n)", s->act_cmd, shown(s->act_name));
		}
		put_text(s, 2, prompt, A_BOLD | A_REVERSE);
	} else if (s->mode == MODE_INPUT) {
		textf(prompt, sizeof(prompt), "%s%s_",
			 s->input_for == INPUT_FILTER ? "filter: " : "signal (TERM, HUP, 9...): ",
			 s->input);
		put_text(s, 2, prompt, A_BOLD);
	} else {
		put_text(s, 2, news, 0);
	}
	layout_for(COLS, &lay);
	draw_row(s, 3, NULL, &lay, false);
	if (!s->rows.n)
		put_text(s, 4, s->v->single_pid ? "(no answer from the program yet)" :
						   "(no tree: spawnd has not answered)",
			 A_DIM);
	for (y = 0; y < lh && s->top + (size_t)y < s->rows.n; y++)
		draw_row(s, 4 + y, &s->rows.v[s->top + (size_t)y], &lay, s->top + (size_t)y == s->sel);
	if (dh > 1 && s->rows.n) {
		size_t n;

		detail = calloc(DETAIL_MAX, sizeof(*detail));
		mvhline(4 + lh, 0, ACS_HLINE, COLS);
		n = detail ? row_detail(s->v, &s->rows.v[s->sel], detail, DETAIL_MAX) : 0;
		for (int i = 0; i < dh - 1 && (size_t)i < n; i++)
			put_text(s, 4 + lh + 1 + i, detail[i], 0);
		free(detail);
	}
	put_line(LINES - 1, "q quit  ? help  Enter fold  s sort  / filter  r restart  S stop  "
			    "t start  K signal  l logs",
		 A_DIM);
	refresh();
}

/* ---- the rows, the selection ------------------------------------------------------------- */

static void rebuild(struct screen *s)
{
	int lh = list_height();

	(void)rows_build(s->v, &s->rows);
	/* The selection stays on its row, wherever the refresh moved it. */
	for (size_t i = 0; i < s->rows.n; i++) {
		if (!strcmp(s->rows.v[i].key, s->sel_key)) {
			s->sel = i;
			break;
		}
	}
	if (s->sel >= s->rows.n)
		s->sel = s->rows.n ? s->rows.n - 1 : 0;
	if (s->rows.n)
		textf(s->sel_key, sizeof(s->sel_key), "%s", s->rows.v[s->sel].key);
	if (s->sel < s->top)
		s->top = s->sel;
	if (s->sel >= s->top + (size_t)lh)
		s->top = s->sel - (size_t)lh + 1;
	if (s->top + (size_t)lh > s->rows.n)
		s->top = s->rows.n > (size_t)lh ? s->rows.n - (size_t)lh : 0;
}

static void select_row(struct screen *s, long long to)
{
	if (!s->rows.n)
		return;
	if (to < 0)
		to = 0;
	if (to >= (long long)s->rows.n)
		to = (long long)s->rows.n - 1;
	s->sel = (size_t)to;
	textf(s->sel_key, sizeof(s->sel_key), "%s", s->rows.v[s->sel].key);
}

static struct row *selected(struct screen *s)
{
	return s->rows.n ? &s->rows.v[s->sel] : NULL;
}

/* Ask what the selection and the pane need: a worker's recent log. */
static void ask_logs(struct screen *s, long long now)
{
	struct row *row = selected(s);

	if (!s->v->link)
		return;
	if (s->mode == MODE_LOGS)
		link_ask_logs(s->v->link, s->logs_of, LINES > 3 ? LINES - 2 : 1, now);
	else if (row && row->kind == ROW_WORKER && detail_height() > 1)
		link_ask_logs(s->v->link, shown(jstr(row->node, "path")), 5, now);
}

/* Programs just found: ask them now rather than at the next refresh. */
static void fetch_new(struct view *v, long long now)
{
	for (size_t i = 0; i < v->ngp; i++)
		if (!v->gp[i].answer && !v->gp[i].err[0] && v->gp[i].fd < 0)
			(void)gp_fetch(&v->gp[i], &v->query, now);
}

/* ---- keys -------------------------------------------------------------------------------- */

static void ask_action(struct screen *s, const char *cmd)
{
	struct row *row = selected(s);

	if (!s->v->link) {
		textf(s->note, sizeof(s->note), "%s: with -p there is no spawnd to ask", cmd);
		return;
	}
	if (!row || (row->kind != ROW_WORKER && row->kind != ROW_SUP)) {
		textf(s->note, sizeof(s->note), "%s: select a supervisor or a worker", cmd);
		return;
	}
	textf(s->act_cmd, sizeof(s->act_cmd), "%s", cmd);
	textf(s->act_name, sizeof(s->act_name), "%s", shown(jstr(row->node, "path")));
	if (!strcmp(cmd, "signal")) {
		s->mode = MODE_INPUT;
		s->input_for = INPUT_SIGNAL;
		s->input[0] = '\0';
	} else {
		s->mode = MODE_CONFIRM;
	}
}

static void input_done(struct screen *s, long long now)
{
	s->mode = MODE_TREE;
	if (s->input_for == INPUT_FILTER) {
		textf(s->filter, sizeof(s->filter), "%s", s->input);
		s->v->filter = s->filter;
		s->v->query.filter = s->filter;
		for (size_t i = 0; i < s->v->ngp; i++)
			(void)gp_fetch(&s->v->gp[i], &s->v->query, now);
		return;
	}
	s->act_sig = sd_signal_parse(s->input);
	if (s->act_sig < 0) {
		textf(s->note, sizeof(s->note),
			 "'%s' is not a signal: a name such as TERM or SIGTERM, or 1 to 64", s->input);
		return;
	}
	s->mode = MODE_CONFIRM;
}

static void key_input(struct screen *s, int ch, long long now)
{
	size_t len = strlen(s->input);

	if (ch == 27) {
		s->mode = MODE_TREE;
	} else if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
		input_done(s, now);
	} else if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
		if (len)
			s->input[len - 1] = '\0';
	} else if (ch >= 32 && ch < 127 && len + 1 < sizeof(s->input)) {
		s->input[len] = (char)ch;
		s->input[len + 1] = '\0';
	}
}

static void key_confirm(struct screen *s, int ch, long long now)
{
	int r;

	s->mode = MODE_TREE;
	if (ch != 'y' && ch != 'Y') {
		textf(s->note, sizeof(s->note), "%s %s: not done", s->act_cmd, shown(s->act_name));
		return;
	}
	r = link_act(s->v->link, s->act_cmd, s->act_name, s->act_sig, now);
	if (r < 0)
		textf(s->note, sizeof(s->note), "%s %s: %s", s->act_cmd, shown(s->act_name),
			 r == -ENOTCONN ? "spawnd is not reachable" : strerror(-r));
}

/* A key in the tree: false to quit. */
static bool key_tree(struct screen *s, int ch, long long now)
{
	struct row *row = selected(s);
	int lh = list_height();

	s->note[0] = '\0';
	switch (ch) {
	case 'q':
		return false;
	case KEY_UP:
	case 'k':
		select_row(s, (long long)s->sel - 1);
		break;
	case KEY_DOWN:
	case 'j':
		select_row(s, (long long)s->sel + 1);
		break;
	case KEY_PPAGE:
		select_row(s, (long long)s->sel - lh);
		break;
	case KEY_NPAGE:
		select_row(s, (long long)s->sel + lh);
		break;
	case KEY_HOME:
	case 'g':
		select_row(s, 0);
		break;
	case KEY_END:
	case 'G':
		select_row(s, (long long)s->rows.n - 1);
		break;
	case '\n':
	case '\r':
	case KEY_ENTER:
	case ' ':
	case KEY_LEFT:
	case KEY_RIGHT:
		if (!row || !row->foldable)
			break;
		if ((ch == KEY_LEFT && row->folded) || (ch == KEY_RIGHT && !row->folded))
			break;
		if (view_toggle_fold(s->v, row->key) < 0)
			textf(s->note, sizeof(s->note), "%s", strerror(ENOMEM));
		break;
	case 's':
		for (size_t i = 0; i < 5; i++) {
			if (strcmp(s->v->query.sort, sort_cycle[i]))
				continue;
			s->v->query.sort = sort_cycle[(i + 1) % 5];
			break;
		}
		for (size_t i = 0; i < s->v->ngp; i++)
			(void)gp_fetch(&s->v->gp[i], &s->v->query, now);
		textf(s->note, sizeof(s->note), "green processes by %s", s->v->query.sort);
		break;
	case '/':
		s->mode = MODE_INPUT;
		s->input_for = INPUT_FILTER;
		textf(s->input, sizeof(s->input), "%s", s->filter);
		break;
	case 'r':
		ask_action(s, "restart");
		break;
	case 'S':
		ask_action(s, "stop");
		break;
	case 't':
		ask_action(s, "start");
		break;
	case 'K':
		ask_action(s, "signal");
		break;
	case 'l':
		if (!s->v->link || !row || row->kind != ROW_WORKER) {
			textf(s->note, sizeof(s->note), "logs: select a worker");
			break;
		}
		textf(s->logs_of, sizeof(s->logs_of), "%s", shown(jstr(row->node, "path")));
		s->mode = MODE_LOGS;
		ask_logs(s, now);
		break;
	case '?':
	case 'h':
		s->mode = MODE_HELP;
		break;
	default:
		break;
	}
	return true;
}

/* false to quit */
static bool key(struct screen *s, int ch, long long now)
{
	if (ch == KEY_RESIZE)
		return true; /* drawn again below, at the new size */
	switch (s->mode) {
	case MODE_HELP:
		s->mode = MODE_TREE;
		return true;
	case MODE_LOGS:
		if (ch == 'l' || ch == 'q' || ch == 27)
			s->mode = MODE_TREE;
		return true;
	case MODE_INPUT:
		key_input(s, ch, now);
		return true;
	case MODE_CONFIRM:
		key_confirm(s, ch, now);
		return true;
	case MODE_TREE:
		break;
	}
	return key_tree(s, ch, now);
}

/* ---- the loop ---------------------------------------------------------------------------- */

static void colors_init(struct screen *s)
{
	const char *no = getenv("NO_COLOR");

	/* https://no-color.org: set and not empty turns colours off. */
	s->color = has_colors() && !(no && *no);
	if (!s->color)
		return;
	start_color();
	use_default_colors();
	init_pair(COL_GOOD, COLOR_GREEN, -1);
	init_pair(COL_STARTING, COLOR_YELLOW, -1);
	init_pair(COL_BACKOFF, COLOR_MAGENTA, -1);
	init_pair(COL_STALLED, COLOR_RED, -1);
	init_pair(COL_FAILED, COLOR_RED, -1);
}

int screen_run(struct view *v, long long delay_ms)
{
	struct screen s = { .v = v };
	struct sigaction sa = { .sa_handler = on_quit };
	struct pollfd pfd[GP_SOURCES_MAX + 2];
	long long next = 0;
	bool go = true;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (!initscr()) {
		fprintf(stderr, "ptop: cannot start the screen\n");
		return 1;
	}
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(25);
	curs_set(0);
	colors_init(&s);
	textf(s.filter, sizeof(s.filter), "%s", v->filter);
	v->filter = s.filter;

	while (go && !quit_signal) {
		long long now = mono_ms();
		int timeout, ch;
		size_t n;

		if (now >= next) {
			refresh_start(v, now);
			ask_logs(&s, now);
			next = now + delay_ms;
		}
		if (v->link && link_up(v->link) && !s.was_up)
			link_ask_status(v->link, now); /* (re)connected: at once */
		s.was_up = v->link && link_up(v->link);
		rebuild(&s);
		fetch_new(v, now);
		draw(&s);

		pfd[0] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
		n = 1 + sources_pollfds(v, pfd + 1, GP_SOURCES_MAX + 1);
		timeout = (int)(next - mono_ms());
		timeout = timeout < 0 ? 0 : timeout > TICK_MS ? TICK_MS : timeout;
		if (poll(pfd, n, timeout) < 0 && errno != EINTR)
			break;
		now = mono_ms();
		sources_ready(v, pfd + 1, n - 1, now);
		while (go && (ch = getch()) != ERR) {
			go = key(&s, ch, now);
			if (s.mode == MODE_TREE && ch != KEY_RESIZE)
				rebuild(&s);
		}
	}
	endwin();
	rows_free(&s.rows);
	v->filter = "";
	return 0;
}
