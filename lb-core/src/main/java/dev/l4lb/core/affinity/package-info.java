/**
 * ClientIP session affinity: the bounded, expiring table of which endpoint each client was last
 * sent to (Kubernetes' sessionAffinity: ClientIP with its timeoutSeconds), kept per service port.
 * Belongs here: the table and its expiry; not the choice of an endpoint, which the schedulers
 * make.
 *
 * <p>Null-marked: a type is non-null unless it says {@code @Nullable}.
 */
@NullMarked
package dev.l4lb.core.affinity;

import org.jspecify.annotations.NullMarked;
