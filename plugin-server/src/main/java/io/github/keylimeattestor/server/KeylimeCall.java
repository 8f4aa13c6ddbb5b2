package io.github.keylimeattestor.server;

import io.github.keylimeattestor.keylime.KeylimeException;

/** One call to Keylime, for the code that makes calls only to warm or train (KeylimeWarmUp, KeylimeTraining). */
@FunctionalInterface
interface KeylimeCall {
  Object call() throws KeylimeException;
}
