/* How far aliases multiply a loaded YAML document. A document's nodes are
 * walked once per use: an anchored value used by 60,000 aliases is built
 * 60,000 times ("billion laughs" without the billion), so a 512 KiB probe
 * file took 9 GB and 100 s to load. Counted once after parsing, linear in
 * the nodes, and refused past a bound. */
#ifndef TRIPLINE_YAML_ALIAS_H
#define TRIPLINE_YAML_ALIAS_H

#include "base/err.h" /* returns 0 or a TL_E* code */

#include <stddef.h>

#include <yaml.h>

/* Nodes that aliases may add to a document on top of its own. */
#define YAML_ALIAS_EXTRA_MAX 200000

/* The nodes of doc counted every time an alias uses them. TL_ETOOBIG when
 * that passes the document's own node count plus YAML_ALIAS_EXTRA_MAX, or an
 * alias is used inside its own value, or aliases nest past max_depth; *where
 * is then the node at which it went over. TL_ENOMEM. */
int yaml_alias_check(yaml_document_t *doc, int max_depth, yaml_node_t **where);

#endif
