/**
 * The standalone YAML configuration read into the model: parsing, validation with errors that
 * name the file, the path in it and the problem, and the difference between two configs for a
 * reload's report. Belongs here: what turns a user's file into a {@link
 * dev.l4lb.core.config.BalancerConfig}; Kubernetes objects are read in {@code kube}.
 *
 * <p>Null-marked: a type is non-null unless it says {@code @Nullable}.
 */
@NullMarked
package dev.l4lb.core.config;

import org.jspecify.annotations.NullMarked;
