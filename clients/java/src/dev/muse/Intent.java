package dev.muse;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * One intent of the tenant, as {@link MuseClient#intent} read it from the
 * segment: its id, and its feature names in the order mused expects the
 * values. Place features by name ({@link #index}, {@link #vector}), never by
 * a position assumed from elsewhere. Immutable and thread-safe; a snapshot:
 * a new model generation may change the schema, which {@link #check} detects.
 */
public final class Intent {
    private final MuseClient client;
    private final String name;
    private final int id;
    private final long schemaHash;
    private final List<String> featureNames;
    private final Map<String, Integer> positions;

    Intent(MuseClient client, String name, int id, long schemaHash, List<String> featureNames) {
        this.client = client;
        this.name = name;
        this.id = id;
        this.schemaHash = schemaHash;
        this.featureNames = List.copyOf(featureNames);
        this.positions = new HashMap<>();
        for (int i = 0; i < featureNames.size(); i++) positions.put(featureNames.get(i), i);
    }

    /**
     * The intent's name.
     *
     * @return the name, e.g. "card-not-present"
     */
    public String name() {
        return name;
    }

    /**
     * The intent's id.
     *
     * @return what every submission of this intent carries as its intent id
     */
    public int id() {
        return id;
    }

    /**
     * The intent's feature count.
     *
     * @return how many features every event of this intent carries
     */
    public int featureCount() {
        return featureNames.size();
    }

    /**
     * The hash of the intent's schema.
     *
     * @return FNV-1a of the feature names joined by "\n" (muse_schema_hash)
     */
    public long schemaHash() {
        return schemaHash;
    }

    /**
     * The intent's features.
     *
     * @return the feature names, in the order of an event's values
     */
    public List<String> featureNames() {
        return featureNames;
    }

    /**
     * The position of a feature in an event's values.
     *
     * @param feature the feature's name
     * @return its index in the array {@link MuseChannel#submit} takes
     * @throws MuseException {@link Status#UNKNOWN_FEATURE} if the intent has no such feature
     */
    public int index(String feature) {
        Integer position = positions.get(feature);
        if (position == null)
            throw new MuseException(Status.UNKNOWN_FEATURE.code, "intent " + name + " has no feature " + feature);
        return position;
    }

    /**
     * The values of an event given by name, in the intent's order; features
     * absent from the map are NaN, which mused treats as missing.
     *
     * @param features values by feature name
     * @return a new array of {@link #featureCount()} values
     * @throws MuseException {@link Status#UNKNOWN_FEATURE} for a name the intent does not have
     */
    public double[] vector(Map<String, Double> features) {
        double[] values = new double[featureCount()];
        fill(features, values);
        return values;
    }

    /**
     * {@link #vector} into an existing array, allocating nothing.
     *
     * @param features values by feature name
     * @param values an array of {@link #featureCount()} values, overwritten
     * @throws IllegalArgumentException if {@code values} has another length
     * @throws MuseException {@link Status#UNKNOWN_FEATURE} for a name the intent does not have
     */
    public void fill(Map<String, Double> features, double[] values) {
        if (values.length != featureCount())
            throw new IllegalArgumentException(name + " takes " + featureCount() + " features, not " + values.length);
        Arrays.fill(values, Double.NaN);
        for (Map.Entry<String, Double> e : features.entrySet()) {
            Double value = e.getValue();
            values[index(e.getKey())] = value == null ? Double.NaN : value;
        }
    }

    /**
     * Checks that {@code names}, in this order, are the intent's features,
     * and that the segment still serves that schema for this intent's id
     * (muse_check_schema): call it once with the columns an integration fills.
     *
     * @param names feature names in the order the integration lays them out
     * @throws MuseException {@link Status#SCHEMA_MISMATCH}, or {@link Status#UNKNOWN_INTENT} if the id is gone
     */
    public void check(List<String> names) {
        client.checkOpen();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment info = arena.allocate(LibMuse.INTENT_INFO);
            info.set(JAVA_INT, LibMuse.INFO_ID, id);
            info.set(JAVA_INT, LibMuse.INFO_FEATURE_COUNT, featureCount());
            info.set(JAVA_LONG, LibMuse.INFO_SCHEMA_HASH, schemaHash);
            MemorySegment array = arena.allocate(ADDRESS, Math.max(1, names.size()));
            for (int i = 0; i < names.size(); i++) array.setAtIndex(ADDRESS, i, arena.allocateFrom(names.get(i)));
            int status = (int) LibMuse.CHECK_SCHEMA.invokeExact(client.handle(), info, array, (long) names.size());
            if (status != 0) throw new MuseException(status, "schema check of intent " + name);
        } catch (Throwable t) {
            throw LibMuse.rethrow(t);
        }
    }

    @Override
    public String toString() {
        return "Intent[" + name + ", id=" + id + ", features=" + featureNames + "]";
    }
}
