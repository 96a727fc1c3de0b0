/* table.h: the recorder's C hash table, shared by _fasthook.c and _aiohook.c (each includes it; setup.py rebuilds
 * both when it changes).
 *
 * An open-addressing hash table from a 64-bit key (a hash already, or an object's address: no hashing of our own)
 * to an object (owned), with a second 64-bit value kept beside it (checked on look-up where keys may collide). Entries are replaced or cleared, never removed one by
 * one. Key 0 marks an empty slot, so a key of 0 is stored as 1. */
typedef struct { unsigned long long key, check; PyObject *value; } Slot;
typedef struct { Slot *slots; size_t mask, used; } Table;

static Slot *table_find(Table *t, unsigned long long key) {
    if (t->slots == NULL) return NULL;
    if (key == 0) key = 1;
    for (size_t i = (size_t)(key ^ (key >> 32)) & t->mask;; i = (i + 1) & t->mask) {
        Slot *s = &t->slots[i];
        if (s->key == key) return s;
        if (s->key == 0) return NULL;
    }
}

static void table_clear(Table *t) {
    if (t->slots == NULL) return;
    Slot *slots = t->slots;
    size_t n = t->mask + 1;
    t->slots = NULL; t->mask = 0; t->used = 0;
    for (size_t i = 0; i < n; i++) Py_XDECREF(slots[i].value);
    PyMem_Free(slots);
}

/* Store (key, check, value), replacing the entry of the same key. 0, or -1 with MemoryError set. */
static int table_set(Table *t, unsigned long long key, unsigned long long check, PyObject *value) {
    if (key == 0) key = 1;
    if (t->slots == NULL || 2 * (t->used + 1) > t->mask + 1) {
        size_t n = t->slots == NULL ? 64 : 2 * (t->mask + 1);
        Slot *slots = PyMem_Calloc(n, sizeof(Slot));
        if (slots == NULL) { PyErr_NoMemory(); return -1; }
        Slot *old = t->slots;
        size_t old_n = old == NULL ? 0 : t->mask + 1;
        t->slots = slots; t->mask = n - 1; t->used = 0;
        for (size_t i = 0; i < old_n; i++) {
            if (old[i].key == 0) continue;
            size_t j = (size_t)(old[i].key ^ (old[i].key >> 32)) & t->mask;
            while (slots[j].key != 0) j = (j + 1) & t->mask;
            slots[j] = old[i];
            t->used++;
        }
        PyMem_Free(old);
    }
    size_t i = (size_t)(key ^ (key >> 32)) & t->mask;
    while (t->slots[i].key != 0 && t->slots[i].key != key) i = (i + 1) & t->mask;
    Slot *s = &t->slots[i];
    if (s->key == 0) t->used++;
    PyObject *old_value = s->value;
    Py_INCREF(value);
    s->key = key; s->check = check; s->value = value;
    Py_XDECREF(old_value);
    return 0;
}
