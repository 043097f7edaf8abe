/* An index of probes by id (a hash table of borrowed pointers), so that the
 * loader's duplicate check and probe_set_find stay O(1) at 100,000 probes. */
#ifndef TRIPLINE_PROBE_IDS_H
#define TRIPLINE_PROBE_IDS_H

struct probe;
struct probe_ids;

/* Adds p under p->id unless that id is there already (the first one stays);
 * creates the index on first use. 0 or TL_ENOMEM. */
int probe_ids_add(struct probe_ids **ids, const struct probe *p);
/* The first probe added with this id, or NULL (also for a NULL index). */
struct probe *probe_ids_find(const struct probe_ids *ids, const char *id);
void probe_ids_free(struct probe_ids *ids);

#endif
