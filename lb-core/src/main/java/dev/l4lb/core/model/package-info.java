/**
 * The immutable values everything else speaks of: services, their ports and endpoints, the
 * policies a port carries (scheduler, affinity, PROXY protocol, limits, source ranges) and
 * address helpers. Belongs here: records and enums with their own validation, nothing that reads
 * files or holds state.
 */
package dev.l4lb.core.model;
