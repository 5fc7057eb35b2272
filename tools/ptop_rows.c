/* SPDX-License-Identifier: MIT */
/*
 * What ptop shows, from what its sources hold: the header, the rows of the
 * tree (supervisors, workers, their OS processes, libgp runtimes with
 * their schedulers and green processes), folded and filtered, their cells
 * fitted to the columns, a row's detail, and the snapshot as JSON.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ptop.h"

/* ---- folds, sources ---------------------------------------------------------------------- */

bool view_folded(const struct view *v, const char *key)
{
	for (size_t i = 0; i < v->nfolded; i++)
		if (!strcmp(v->folded[i], key))
			return true;
	return false;
}

int view_toggle_fold(struct view *v, const char *key)
{
	char **f;

	for (size_t i = 0; i < v->nfolded; i++) {
		if (strcmp(v->folded[i], key))
			continue;
		free(v->folded[i]);
		v->folded[i] = v->folded[--v->nfolded];
		return 0;
	}
	f = reallocarray(v->folded, v->nfolded + 1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	v->folded = f;
	f[v->nfolded] = strdup(key);
	if (!f[v->nfolded])
		return -ENOMEM;
	v->nfolded++;
	return 0;
}

struct gp_source *view_gp(struct view *v, const char *path, int os_pid)
{
	for (size_t i = 0; i < v->ngp; i++) {
		if (!strcmp(v->gp[i].path, path)) {
			v->gp[i].wanted = true;
			return &v->gp[i];
		}
	}
	if (v->ngp == GP_SOURCES_MAX)
		return NULL;
	gp_source_init(&v->gp[v->ngp], path, os_pid);
	v->gp[v->ngp].wanted = true;
	return &v->gp[v->ngp++];
}

/* ---- rows -------------------------------------------------------------------------------- */

static struct row *row_add(struct rows *r, enum row_kind kind, int depth, const char *key)
{
	struct row *row;

	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct row *nv = reallocarray(r->v, cap, sizeof(*nv));

		if (!nv)
			return NULL;
		r->v = nv;
		r->cap = cap;
	}
	row = &r->v[r->n++];
	memset(row, 0, sizeof(*row));
	row->kind = kind;
	row->depth = depth;
	textf(row->key, sizeof(row->key), "%s", key);
	textf(row->pid, sizeof(row->pid), "-");
	textf(row->uptime, sizeof(row->uptime), "-");
	textf(row->restarts, sizeof(row->restarts), "-");
	textf(row->cpu, sizeof(row->cpu), "-");
	textf(row->rss, sizeof(row->rss), "-");
	return row;
}

void rows_free(struct rows *r)
{
	free(r->v);
	memset(r, 0, sizeof(*r));
}

static void fmt_kib(char *buf, size_t size, long long kib)
{
	if (kib < 10240)
		textf(buf, size, "%lldK", kib);
	else if (kib < 10240 * 1024)
		textf(buf, size, "%lldM", kib / 1024);
	else
		textf(buf, size, "%lldG", kib / (1024 * 1024));
}

static void fmt_bytes(char *buf, size_t size, long long bytes)
{
	if (bytes < 10240)
		textf(buf, size, "%lldB", bytes);
	else
		fmt_kib(buf, size, bytes / 1024);
}

static void os_cells(struct row *row, const struct proc_info *p)
{
	textf(row->pid, sizeof(row->pid), "%d", p->pid);
	fmt_uptime(row->uptime, sizeof(row->uptime), proc_uptime_ms(p));
	textf(row->cpu, sizeof(row->cpu), "%.1f", p->cpu);
	fmt_kib(row->rss, sizeof(row->rss), p->rss_kib);
}

static enum row_color state_color(const char *state, bool stalled)
{
	if (stalled)
		return COL_STALLED;
	if (!strcmp(state, "ready") || !strcmp(state, "running"))
		return COL_GOOD;
	if (!strcmp(state, "starting") || !strcmp(state, "stopping"))
		return COL_STARTING;
	if (!strcmp(state, "backoff"))
		return COL_BACKOFF;
	if (!strcmp(state, "failed"))
		return COL_FAILED;
	return COL_DIM;
}

/* The top frame's function of a crash report, if spawnd gives one. */
/* The function a crash report's stack starts in (spawnd-control(7),
 * "last_crash"), or NULL. */
static const char *crash_function(json_object *crash)
{
	return jstr(jidx(jarr(crash, "stack"), 0), "function");
}

/* A worker's last exit in a few words: "SIGSEGV in parse_line", "exit 3". */
static void last_exit_words(char *buf, size_t size, json_object *node)
{
	json_object *le = jget(node, "last_exit");
	const char *fn = crash_function(jget(node, "last_crash"));
	char base[64];

	fmt_last_exit(base, sizeof(base), le);
	if (fn && le && jstr(le, "signal"))
		textf(buf, size, "%s in %s", jstr(le, "signal"), fn);
	else
		textf(buf, size, "%s", le ? base : "");
}

static bool contains(const char *hay, const char *needle)
{
	return !needle || !*needle || (hay && strstr(hay, needle));
}

/* Whether a unit, or one under it, matches the filter by its path, or is
 * a libgp program (its socket is there) whose green processes may. */
static bool unit_matches(json_object *node, const char *filter)
{
	json_object *kids = jarr(node, "children");

	const char *sock = jstr(node, "introspect");

	if (contains(jstr(node, "path"), filter) || (sock && access(sock, F_OK) == 0))
		return true;
	for (size_t i = 0; i < jlen(kids); i++)
		if (unit_matches(jidx(kids, i), filter))
			return true;
	return false;
}

static const char *os_state(char s)
{
	switch (s) {
	case 'R':
		return "running";
	case 'S':
		return "sleeping";
	case 'D':
		return "disk";
	case 'Z':
		return "zombie";
	case 'T':
	case 't':
		return "stopped";
	default:
		return "?";
	}
}

/* pid's descendants, from /proc. */
static int add_os_children(struct view *v, struct rows *out, int pid, int depth)
{
	for (size_t i = 0; i < v->procs.n; i++) {
		const struct proc_info *p = &v->procs.v[i];
		char key[48];
		struct row *row;
		bool has_kids = false;

		if (p->ppid != pid)
			continue;
		for (size_t k = 0; k < v->procs.n && !has_kids; k++)
			has_kids = v->procs.v[k].ppid == p->pid;
		textf(key, sizeof(key), "p:%d", p->pid);
		row = row_add(out, ROW_OSPROC, depth, key);
		if (!row)
			return -ENOMEM;
		textf(row->name, sizeof(row->name), "%s", p->comm);
		textf(row->state, sizeof(row->state), "%s", os_state(p->state));
		os_cells(row, p);
		row->os_pid = p->pid;
		row->color = COL_NONE;
		row->foldable = has_kids;
		row->folded = has_kids && view_folded(v, key);
		if (has_kids && !row->folded && add_os_children(v, out, p->pid, depth + 1) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* A libgp runtime's rows: itself, its schedulers, its top green processes
 * and a count of the rest. */
static int add_runtime(struct view *v, struct rows *out, struct gp_source *g, int depth)
{
	json_object *ans = g->answer, *rt = jget(ans, "runtime"), *per = jarr(rt, "per_scheduler");
	json_object *procs = jarr(ans, "processes"), *totals = jget(ans, "totals");
	char key[PATH_MAX + 8];
	struct row *row;
	long long all = jint(rt, "processes"), listed = (long long)jlen(procs);

	textf(key, sizeof(key), "g:%s", g->path);
	row = row_add(out, ROW_RUNTIME, depth, key);
	if (!row)
		return -ENOMEM;
	row->gp = g;
	row->os_pid = g->os_pid;
	row->wide = true;
	textf(row->name, sizeof(row->name), "libgp");
	if (!ans) {
		textf(row->info, sizeof(row->info), "%s", g->err[0] ? g->err : "asking...");
		row->color = g->err[0] ? COL_FAILED : COL_DIM;
		return 0;
	}
	textf(row->state, sizeof(row->state), "%s", jint(rt, "stalls") ? "stalled" : "running");
	row->color = jint(rt, "stalls") ? COL_STALLED : COL_GOOD;
	textf(row->info, sizeof(row->info), "%s: %lld schedulers, %lld processes, %lld stalls, by %s%s%s",
		 row->state, jint(rt, "schedulers"), all, jint(rt, "stalls"), v->query.sort,
		 g->err[0] ? "; last: " : "", g->err);
	row->foldable = true;
	row->folded = view_folded(v, key);
	if (row->folded)
		return 0;
	for (size_t i = 0; i < jlen(per); i++) {
		json_object *s = jidx(per, i);
		char util[16] = "-";

		textf(key, sizeof(key), "s:%s:%zu", g->path, i);
		row = row_add(out, ROW_SCHED, depth + 1, key);
		if (!row)
			return -ENOMEM;
		row->gp = g;
		row->node = s;
		row->wide = true;
		textf(row->name, sizeof(row->name), "sched %lld", jint(s, "id"));
		textf(row->state, sizeof(row->state), "%s", jbool(s, "stalled") ? "stalled" : "");
		row->color = jbool(s, "stalled") ? COL_STALLED : COL_NONE;
		if (i < SCHED_MAX && g->util[i] >= 0)
			textf(util, sizeof(util), "%.0f%%", g->util[i]);
		textf(row->info, sizeof(row->info),
		      "%sbusy %s, runq %lld, %lld switches, %lld steals, %lld io in flight",
		      jbool(s, "stalled") ? "STALLED, " : "", util,
		      jint(s, "runq"), jint(s, "switches"), jint(s, "steals"),
		      jint(s, "io_submitted") - jint(s, "io_completed"));
	}
	for (size_t i = 0; i < jlen(procs); i++) {
		json_object *p = jidx(procs, i);
		bool stalled = json_object_is_type(jget(p, "stall_ms"), json_type_int);
		char heap[16];

		textf(key, sizeof(key), "G:%s:%s", g->path, jstr_or(p, "pid", "?"));
		row = row_add(out, ROW_GREEN, depth + 1, key);
		if (!row)
			return -ENOMEM;
		row->gp = g;
		row->node = p;
		row->wide = true;
		textf(row->name, sizeof(row->name), "%s", jstr_or(p, "name", jstr_or(p, "pid", "?")));
		textf(row->state, sizeof(row->state), "%s",
		      stalled ? "stalled" : jstr_or(p, "state", "?"));
		row->color = stalled ? COL_STALLED : COL_NONE;
		fmt_bytes(heap, sizeof(heap), jint(p, "heap"));
		textf(row->info, sizeof(row->info),
		      "%-11s %-13s mailbox %lld, reductions %lld, heap %s, links %lld",
		      row->state, jstr_or(p, "pid", "?"), jint(p, "mailbox"), jint(p, "reductions"),
		      heap, jint(p, "links"));
		if (stalled)
			textf(row->info + strlen(row->info), sizeof(row->info) - strlen(row->info),
			      ", computing for %lld ms", jint(p, "stall_ms"));
	}
	if (all > listed) {
		size_t o = 0;

		textf(key, sizeof(key), "m:%s", g->path);
		row = row_add(out, ROW_MORE, depth + 1, key);
		if (!row)
			return -ENOMEM;
		row->gp = g;
		row->color = COL_DIM;
		row->wide = true;
		textf(row->name, sizeof(row->name), "%s", v->utf8 ? "\u2026" : "...");
		o = (size_t)textf(row->info, sizeof(row->info), "%lld more", all - listed);
		json_object_object_foreach(totals, state, n)
		{
			long long k = json_object_get_int64(n);

			if (k && o < sizeof(row->info))
				o += (size_t)textf(row->info + o, sizeof(row->info) - o, "%s%lld %s",
						   strchr(row->info, ';') ? ", " : "; all: ", k, state);
		}
	}
	return 0;
}

static int add_unit(struct view *v, struct rows *out, json_object *node, int depth)
{
	bool worker = !strcmp(jstr_or(node, "type", ""), "worker");
	const char *path = shown(jstr(node, "path")), *state = jstr_or(node, "state", "?");
	json_object *kids = jarr(node, "children");
	char key[PATH_MAX + 8];
	struct row *row;
	size_t mark = out->n;
	long long pid = jint(node, "pid");

	if (v->filter && *v->filter && !unit_matches(node, v->filter))
		return 0;
	textf(key, sizeof(key), "u:%s", path);
	row = row_add(out, worker ? ROW_WORKER : ROW_SUP, depth, key);
	if (!row)
		return -ENOMEM;
	row->node = node;
	/* The root by its name too: its path is "/". */
	textf(row->name, sizeof(row->name), "%s", *jstr_or(node, "name", "") ? jstr(node, "name") : path);
	textf(row->state, sizeof(row->state), "%s", jbool(node, "stalled") ? "stalled" : state);
	row->color = state_color(state, jbool(node, "stalled"));
	if (!worker) {
		char per[24];

		/* Its restarts against its intensity: "3/5 in 10s". */
		fmt_secs(per, sizeof(per), jint(node, "period_ms"));
		textf(row->info, sizeof(row->info), "%s, %zu/%lld in %s", jstr_or(node, "strategy", "?"),
		      jlen(jarr(node, "restarts_in_period")), jint(node, "intensity"), per);
		row->foldable = jlen(kids) > 0;
		row->folded = row->foldable && view_folded(v, key);
		for (size_t i = 0; !row->folded && i < jlen(kids); i++) {
			if (add_unit(v, out, jidx(kids, i), depth + 1) < 0)
				return -ENOMEM;
			row = &out->v[mark]; /* the array may have moved */
		}
		return 0;
	}
	textf(row->restarts, sizeof(row->restarts), "%lld", jint(node, "restarts"));
	last_exit_words(row->info, sizeof(row->info), node);
	if (pid <= 0)
		return 0;
	row->os_pid = (int)pid;
	textf(row->pid, sizeof(row->pid), "%lld", pid);
	fmt_uptime(row->uptime, sizeof(row->uptime), jint(node, "uptime_ms"));
	const struct proc_info *p = proc_find(&v->procs, (int)pid);
	const char *sock = jstr(node, "introspect");
	struct gp_source *g = NULL;
	bool has_kids = false;

	if (p) {
		textf(row->cpu, sizeof(row->cpu), "%.1f", p->cpu);
		fmt_kib(row->rss, sizeof(row->rss), p->rss_kib);
	}
	for (size_t k = 0; k < v->procs.n && !has_kids; k++)
		has_kids = v->procs.v[k].ppid == pid;
	if (sock && access(sock, F_OK) == 0)
		g = view_gp(v, sock, (int)pid);
	row->foldable = has_kids || g;
	row->folded = row->foldable && view_folded(v, key);
	if (row->folded)
		return 0;
	if (has_kids && add_os_children(v, out, (int)pid, depth + 1) < 0)
		return -ENOMEM;
	if (g && add_runtime(v, out, g, depth + 1) < 0)
		return -ENOMEM;
	return 0;
}

int rows_build(struct view *v, struct rows *out)
{
	json_object *status = v->link ? jget(v->link->status, "status") : NULL;

	out->n = 0;
	for (size_t i = 0; i < v->ngp; i++)
		v->gp[i].wanted = false;
	if (v->single_pid) {
		char path[PATH_MAX];

		if (gp_default_path(v->single_pid, path, sizeof(path)) < 0)
			return -ENAMETOOLONG;
		return add_runtime(v, out, view_gp(v, path, v->single_pid), 0);
	}
	if (!status)
		return 0;
	return add_unit(v, out, status, 0);
}

/* ---- the header ---------------------------------------------------------------------------- */

/* "full", or "degraded: why"; "unknown" from a spawnd without probes
 * (before they came, status had no "bpf"). */
void bpf_mode(json_object *resp, char *buf, size_t size)
{
	textf(buf, size, "%s", jstr_or(resp, "bpf", "unknown"));
}

static void count_workers(json_object *node, long long *running, long long *all,
			  long long *stalled)
{
	json_object *kids = jarr(node, "children");

	if (!strcmp(jstr_or(node, "type", ""), "worker")) {
		(*all)++;
		*running += jint(node, "pid") > 0;
		*stalled += jbool(node, "stalled");
		return;
	}
	for (size_t i = 0; i < jlen(kids); i++)
		count_workers(jidx(kids, i), running, all, stalled);
}

static void header_single(const struct view *v, struct header *h)
{
	const struct proc_info *p = proc_find(&v->procs, v->single_pid);
	const struct gp_source *g = v->ngp ? &v->gp[0] : NULL;
	json_object *rt = jget(g ? g->answer : NULL, "runtime");
	char up[24] = "-", rss[16] = "-";

	if (p) {
		fmt_uptime(up, sizeof(up), proc_uptime_ms(p));
		fmt_kib(rss, sizeof(rss), p->rss_kib);
	}
	textf(h->line1, sizeof(h->line1), "libgp program %d (%s), up %s, CPU %.1f%%, RSS %s",
		 v->single_pid, p ? p->comm : "gone", up, p ? p->cpu : 0.0, rss);
	if (rt)
		textf(h->line2, sizeof(h->line2),
			 "%lld schedulers, %lld processes, %lld spawned, %lld stalls; sort %s%s%s",
			 jint(rt, "schedulers"), jint(rt, "processes"), jint(rt, "spawned"),
			 jint(rt, "stalls"), v->query.sort, *v->filter ? "; filter " : "", v->filter);
	else
		textf(h->line2, sizeof(h->line2), "introspection: %s",
			 g && g->err[0] ? g->err : "asking...");
}

void header_build(const struct view *v, struct header *h)
{
	json_object *resp = v->link ? v->link->status : NULL, *sd = jget(resp, "spawnd");
	long long running = 0, all = 0, stalled = 0;
	char up[24] = "?", bpf[256];

	if (v->single_pid) {
		header_single(v, h);
		return;
	}
	if (!resp) {
		textf(h->line1, sizeof(h->line1), "spawnd at %s: %s", v->link->path,
			 v->link->down_why[0] ? v->link->down_why : "asking...");
		h->line2[0] = '\0';
		return;
	}
	count_workers(jget(resp, "status"), &running, &all, &stalled);
	bpf_mode(resp, bpf, sizeof(bpf));
	if (sd)
		fmt_uptime(up, sizeof(up), jint(sd, "uptime_ms"));
	if (link_up(v->link))
		/* The config last: a long path is what a narrow screen cuts. */
		textf(h->line1, sizeof(h->line1), "spawnd pid %lld, up %s, bpf %s, config %s",
			 jint(sd, "pid"), up, bpf, jstr_or(sd, "config", sd ? "none" : "unknown"));
	else
		textf(h->line1, sizeof(h->line1), "spawnd at %s: %s (showing what it last said)",
			 v->link->path, v->link->down_why);
	textf(h->line2, sizeof(h->line2),
		 "workers %lld/%lld running, %s restarts in the last minute, %lld stalled now; "
		 "sort %s%s%s",
		 running, all,
		 json_object_is_type(jget(sd, "restarts_last_minute"), json_type_int) ?
			 json_object_get_string(jget(sd, "restarts_last_minute")) :
			 "unknown",
		 stalled, v->query.sort, *v->filter ? "; filter " : "", v->filter);
}

/* ---- cells -------------------------------------------------------------------------------- */

void layout_for(int cols, struct layout *lay)
{
	static const int fixed[CELLS] = { [CELL_STATE] = 8, [CELL_PID] = 7, [CELL_UPTIME] = 6,
					  [CELL_RESTARTS] = 8, [CELL_CPU] = 5, [CELL_RSS] = 6 };
	int rest = cols - (CELLS - 1); /* one space between cells */

	for (int i = 0; i < CELLS; i++) {
		lay->width[i] = fixed[i];
		rest -= fixed[i];
	}
	/* NAME takes half of what is left, at least 16; INFO the rest. */
	lay->width[CELL_NAME] = rest / 2 > 16 ? rest / 2 : 16;
	lay->width[CELL_INFO] = rest - lay->width[CELL_NAME] > 1 ? rest - lay->width[CELL_NAME] : 1;
}

static char *fitted(bool utf8, const char *s, int cols, bool right, bool pad)
{
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	if (right && (int)text_width(s) < cols)
		put_right(f, s, (size_t)cols);
	else
		put_fit(f, utf8, s, (size_t)cols, CUT_END, pad);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

int row_cells(const struct view *v, const struct row *row, const struct layout *lay, bool marks,
	      char *cells[CELLS])
{
	static const char *const titles[CELLS] = { "NAME", "STATE", "PID", "UPTIME", "RESTARTS",
						   "CPU%", "RSS", "INFO" };
	static const bool right[CELLS] = { [CELL_PID] = true, [CELL_UPTIME] = true,
					   [CELL_RESTARTS] = true, [CELL_CPU] = true,
					   [CELL_RSS] = true };
	char name[sizeof(row->name) + 128];
	const char *text[CELLS];
	int o = 0;

	if (row) {
		const char *mark = !marks || !row->foldable ? "  " :
				   row->folded	       ? (v->utf8 ? "\u25b8 " : "+ ") :
							 (v->utf8 ? "\u25be " : "- ");

		o = textf(name, sizeof(name), "%*s%s%s", row->depth * 2, "", marks ? mark : "",
			     row->name);
		(void)o;
		text[CELL_NAME] = name;
		text[CELL_STATE] = row->state;
		text[CELL_PID] = row->pid;
		text[CELL_UPTIME] = row->uptime;
		text[CELL_RESTARTS] = row->restarts;
		text[CELL_CPU] = row->cpu;
		text[CELL_RSS] = row->rss;
		text[CELL_INFO] = row->info;
	} else {
		textf(name, sizeof(name), "%s%s", marks ? "  " : "", titles[CELL_NAME]);
		text[CELL_NAME] = name;
		for (int i = 1; i < CELLS; i++)
			text[i] = titles[i];
	}
	for (int i = 0; i < CELLS; i++) {
		int w = lay->width[i];
		bool r = right[i], pad = i != CELL_INFO;

		/* A wide row's info from the STATE column on; the cells
		 * after it are empty. */
		if (row && row->wide && i == CELL_STATE) {
			text[i] = row->info;
			for (int k = CELL_STATE + 1; k < CELLS; k++)
				w += 1 + lay->width[k];
			r = pad = false;
		} else if (row && row->wide && i > CELL_STATE) {
			text[i] = "";
			w = 0;
		}
		cells[i] = fitted(v->utf8, text[i], w, r, pad);
		if (!cells[i]) {
			while (i--)
				free(cells[i]);
			return -ENOMEM;
		}
	}
	return 0;
}

int row_print(const struct view *v, const struct row *row, const struct layout *lay, FILE *f)
{
	char *cells[CELLS], *line = NULL;
	size_t len = 0;
	FILE *m;
	int r = row_cells(v, row, lay, false, cells);

	if (r < 0)
		return r;
	m = open_memstream(&line, &len);
	for (int i = 0; i < CELLS; i++) {
		if (m) {
			fputs(cells[i], m);
			if (i + 1 < CELLS && !(row && row->wide && i >= CELL_STATE))
				fputc(' ', m);
		}
		free(cells[i]);
	}
	if (!m || fclose(m) != 0) {
		free(line);
		return -ENOMEM;
	}
	/* No trailing spaces: an empty INFO leaves none. */
	while (len && line[len - 1] == ' ')
		line[--len] = '\0';
	fprintf(f, "%s\n", line);
	free(line);
	return 0;
}

/* ---- detail ----------------------------------------------------------------------------- */

static void clock_time(char *buf, size_t size, long long unix_ms)
{
	time_t sec = (time_t)(unix_ms / 1000);
	struct tm tm;

	if (unix_ms <= 0 || !localtime_r(&sec, &tm) || !strftime(buf, size, "%H:%M:%S", &tm))
		textf(buf, size, "?");
}

#define LINE(...)                                                           \
	do {                                                                \
		if (n < max)                                                \
			textf(out[n++], sizeof(out[0]), __VA_ARGS__); \
	} while (0)

/* A frame of a crash report's stack: a string, or an object. */
/* One frame of a crash report: "parse_line+0x1c (parse.c:42)", or the
 * module and address when no symbol was found. */
static void frame_text(char *buf, size_t size, json_object *f)
{
	const char *fn = jstr(f, "function"), *file = jstr(f, "file");

	if (fn && file)
		textf(buf, size, "%s+%#llx (%s:%lld)", fn, jint(f, "offset"), file, jint(f, "line"));
	else if (fn)
		textf(buf, size, "%s+%#llx", fn, jint(f, "offset"));
	else
		textf(buf, size, "%s in %s", jstr_or(f, "addr", "?"), jstr_or(f, "module", "?"));
}

/* The node at path under node, or NULL. */
static json_object *find_node(json_object *node, const char *path)
{
	json_object *kids = jarr(node, "children");

	if (!strcmp(shown(jstr(node, "path")), path))
		return node;
	for (size_t i = 0; i < jlen(kids); i++) {
		json_object *found = find_node(jidx(kids, i), path);

		if (found)
			return found;
	}
	return NULL;
}

/* A supervisor's restarts_in_period as clock times: "12:03:01, 12:03:04". */
static void times_text(json_object *sup, char *buf, size_t size)
{
	json_object *hist = jarr(sup, "restarts_in_period");
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < jlen(hist) && o < size; i++) {
		char at[16];

		clock_time(at, sizeof(at), json_object_get_int64(jidx(hist, i)));
		o += (size_t)textf(buf + o, size - o, "%s%s", i ? ", " : "", at);
	}
	if (!jlen(hist))
		textf(buf, size, "none");
}

/* The restart history of a worker's supervisor (its restarts are the
 * children's), found by the worker's path. */
static void history(const struct view *v, const char *path, char *buf, size_t size)
{
	char parent[PATH_MAX];
	const char *slash = strrchr(path, '/');
	json_object *sup;

	textf(parent, sizeof(parent), "%.*s", slash ? (int)(slash - path) : 0, path);
	sup = find_node(jget(v->link ? v->link->status : NULL, "status"), parent[0] ? parent : "/");
	if (sup)
		times_text(sup, buf, size);
	else
		textf(buf, size, "unknown");
}

static size_t worker_detail(const struct view *v, const struct row *row, char (*out)[512],
			    size_t max)
{
	json_object *node = row->node, *le = jget(node, "last_exit"), *crash = jget(node, "last_crash");
	json_object *stall = jget(node, "last_stall"), *lines;
	const char *path = shown(jstr(node, "path"));
	char at[16], up[24], frame[400], buf[400];
	size_t n = 0;

	LINE("%s: %s, restart %s, %lld restarts%s", path, jstr_or(node, "state", "?"),
	     jstr_or(node, "restart", "?"), jint(node, "restarts"),
	     jbool(node, "held") ? ", held down" : "");
	if (le) {
		clock_time(at, sizeof(at), jint(le, "at_ms"));
		fmt_uptime(up, sizeof(up), jint(le, "uptime_ms"));
		LINE("last exit: %s at %s, after %s", jstr_or(le, "message", "?"), at, up);
	} else {
		LINE("last exit: none yet");
	}
	if (crash) {
		json_object *stack = jarr(crash, "stack");

		LINE("crash report: %s", jstr_or(crash, "message", "?"));
		for (size_t i = 0; i < jlen(stack); i++) {
			frame_text(frame, sizeof(frame), jidx(stack, i));
			LINE("  #%zu %s", i, frame);
		}
		if (jstr(crash, "stack_note"))
			LINE("  (%s)", jstr(crash, "stack_note"));
	} else {
		LINE("crash report: none");
	}
	if (stall)
		LINE("last stall: %s", jstr_or(stall, "message", "?"));
	history(v, path, buf, sizeof(buf));
	LINE("restarts of its supervisor in its period: %s", buf);
	if (jstr(node, "status_text") && *jstr(node, "status_text"))
		LINE("status: %s", jstr(node, "status_text"));
	lines = v->link && !strcmp(v->link->logs_for, path) ? jarr(v->link->logs, "lines") : NULL;
	LINE("recent log%s", lines ? ":" : ": asking...");
	for (size_t i = 0; i < jlen(lines); i++)
		LINE("  %s", json_object_get_string(jidx(lines, i)));
	return n;
}

static void cmdline(int pid, char *buf, size_t size)
{
	char path[64];
	ssize_t len;
	int fd;

	textf(path, sizeof(path), "/proc/%d/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	len = fd < 0 ? -1 : read(fd, buf, size - 1);
	if (fd >= 0)
		close(fd);
	if (len <= 0) {
		textf(buf, size, "?");
		return;
	}
	for (ssize_t i = 0; i < len; i++)
		if (!buf[i])
			buf[i] = ' ';
	buf[len] = '\0';
}

size_t row_detail(const struct view *v, const struct row *row, char (*out)[512], size_t max)
{
	json_object *node = row->node;
	char buf[400], per[24];
	size_t n = 0;

	switch (row->kind) {
	case ROW_WORKER:
		return worker_detail(v, row, out, max);
	case ROW_SUP:
		fmt_secs(per, sizeof(per), jint(node, "period_ms"));
		LINE("%s: %s, %s, intensity %lld per %s, restart %s", shown(jstr(node, "path")),
		     jstr_or(node, "state", "?"), jstr_or(node, "strategy", "?"),
		     jint(node, "intensity"), per, jstr_or(node, "restart", "?"));
		times_text(node, buf, sizeof(buf));
		LINE("restarts in the period: %s", buf);
		LINE("children: %zu", jlen(jarr(node, "children")));
		return n;
	case ROW_OSPROC:
		cmdline(row->os_pid, buf, sizeof(buf));
		LINE("pid %d (%s), %s: %s", row->os_pid, row->name, row->state, buf);
		return n;
	case ROW_GREEN:
		LINE("%s %s: %s%s%s", jstr_or(node, "pid", "?"), jstr_or(node, "name", "(no name)"),
		     jstr_or(node, "state", "?"),
		     jstr(node, "registered") ? ", registered as " : "",
		     jstr_or(node, "registered", ""));
		LINE("mailbox %lld, reductions %lld, heap %lld bytes, links %lld, monitors %lld",
		     jint(node, "mailbox"), jint(node, "reductions"), jint(node, "heap"),
		     jint(node, "links"), jint(node, "monitors"));
		if (json_object_is_type(jget(node, "stall_ms"), json_type_int))
			LINE("stalled: computing for %lld ms without calling libgp",
			     jint(node, "stall_ms"));
		return n;
	case ROW_SCHED:
		LINE("%s: runq %lld, switches %lld, steals %lld, io submitted %lld, "
		     "completed %lld, cpu %lld ms",
		     row->name, jint(node, "runq"), jint(node, "switches"), jint(node, "steals"),
		     jint(node, "io_submitted"), jint(node, "io_completed"), jint(node, "cpu_ms"));
		return n;
	case ROW_RUNTIME:
	case ROW_MORE:
		LINE("libgp program %d, introspection at %s", row->gp->os_pid, row->gp->path);
		if (row->gp->err[0])
			LINE("last fetch: %s", row->gp->err);
		if (row->gp->answer) {
			size_t o = 0;

			buf[0] = '\0';
			json_object_object_foreach(jget(row->gp->answer, "totals"), state, k)
				if (o < sizeof(buf))
					o += (size_t)textf(buf + o, sizeof(buf) - o, "%s%s %lld",
							      o ? ", " : "", state,
							      (long long)json_object_get_int64(k));
			LINE("processes by state: %s", buf);
		}
		return n;
	case ROW_NOTE:
		break;
	}
	return n;
}

/* ---- JSON -------------------------------------------------------------------------------- */

static json_object *os_json(const struct view *v, int pid, bool with_children)
{
	const struct proc_info *p = proc_find(&v->procs, pid);
	json_object *o, *kids;

	if (!p)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "pid", json_object_new_int(p->pid));
	json_object_object_add(o, "comm", json_object_new_string(p->comm));
	json_object_object_add(o, "state", json_object_new_string(os_state(p->state)));
	json_object_object_add(o, "cpu_percent", json_object_new_double(p->cpu));
	json_object_object_add(o, "rss_kib", json_object_new_int64(p->rss_kib));
	json_object_object_add(o, "uptime_ms", json_object_new_int64(proc_uptime_ms(p)));
	if (!with_children)
		return o;
	kids = json_object_new_array();
	for (size_t i = 0; i < v->procs.n; i++)
		if (v->procs.v[i].ppid == pid)
			json_object_array_add(kids, os_json(v, v->procs.v[i].pid, true));
	json_object_object_add(o, "children", kids);
	return o;
}

static json_object *deep_copy(json_object *o)
{
	json_object *copy = NULL;

	if (!o || json_object_deep_copy(o, &copy, NULL) < 0)
		return NULL;
	return copy;
}

static json_object *runtime_json(const struct gp_source *g)
{
	json_object *o = deep_copy(g->answer);

	if (!o)
		return NULL;
	if (g->nutil) {
		json_object *u = json_object_new_array();

		for (unsigned i = 0; i < g->nutil; i++)
			json_object_array_add(u, g->util[i] >= 0 ? json_object_new_double(g->util[i]) :
								   NULL);
		json_object_object_add(o, "utilisation_percent", u);
	}
	return o;
}

/* Each worker gets "os" and, for a libgp program, "runtime". */
static void augment(struct view *v, json_object *node)
{
	json_object *kids = jarr(node, "children");
	long long pid = jint(node, "pid");
	const char *sock = jstr(node, "introspect");

	for (size_t i = 0; i < jlen(kids); i++)
		augment(v, jidx(kids, i));
	if (strcmp(jstr_or(node, "type", ""), "worker") || pid <= 0)
		return;
	json_object_object_add(node, "os", os_json(v, (int)pid, true));
	for (size_t i = 0; sock && i < v->ngp; i++)
		if (!strcmp(v->gp[i].path, sock) && v->gp[i].answer)
			json_object_object_add(node, "runtime", runtime_json(&v->gp[i]));
}

json_object *snapshot_json(struct view *v)
{
	json_object *o = json_object_new_object(), *sd, *status;
	char bpf[256];

	if (!o)
		return NULL;
	if (v->single_pid) {
		json_object_object_add(o, "os", os_json(v, v->single_pid, false));
		json_object_object_add(o, "runtime", v->ngp ? runtime_json(&v->gp[0]) : NULL);
		if (v->ngp && v->gp[0].err[0])
			json_object_object_add(o, "error", json_object_new_string(v->gp[0].err));
		return o;
	}
	sd = deep_copy(jget(v->link->status, "spawnd"));
	if (!sd)
		sd = json_object_new_object();
	bpf_mode(v->link->status, bpf, sizeof(bpf));
	json_object_object_add(sd, "socket", json_object_new_string(v->link->path));
	json_object_object_add(sd, "reachable", json_object_new_boolean(link_up(v->link)));
	if (!link_up(v->link))
		json_object_object_add(sd, "error", json_object_new_string(v->link->down_why));
	json_object_object_add(sd, "bpf", json_object_new_string(bpf));
	json_object_object_add(o, "spawnd", sd);
	status = deep_copy(jget(v->link->status, "status"));
	if (status)
		augment(v, status);
	json_object_object_add(o, "status", status);
	return o;
}
