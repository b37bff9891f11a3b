/** `key -> Set` indexes (sockets by user, rooms by peer): add, and remove dropping empty sets. */
export function addToIndex<K, V>(index: Map<K, Set<V>>, key: K, value: V): void {
  let values = index.get(key);
  if (!values) {
    values = new Set();
    index.set(key, values);
  }
  values.add(value);
}

export function removeFromIndex<K, V>(index: Map<K, Set<V>>, key: K, value: V): void {
  const values = index.get(key);
  if (!values) return;
  values.delete(value);
  if (values.size === 0) index.delete(key);
}
