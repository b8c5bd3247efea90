package smartspaces.spark;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.Attribute;
import org.apache.spark.sql.catalyst.plans.logical.LocalRelation;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.catalyst.types.DataTypeUtils;
import org.apache.spark.sql.types.StructType;
import scala.collection.JavaConverters;
import scala.collection.Seq;

/**
 * Queries analysed once over placeholder inputs, then run over each micro-batch's inputs as they are.
 *
 * <p>Building a DataFrame through the API analyses the plan at every step: for a micro-batch of a few hundred
 * rows, that cost more than running the query (the change feed's rules: about two thousand calls from Python
 * and half a second of analysis per batch). A template's analysed plan is kept; {@link #over} puts each
 * batch's rows in place of each placeholder's (a local relation, found by its rows' identity, so copies of it
 * that the analyser made for a self-join are replaced too) and keeps everything else, expression ids
 * included. Only the optimiser and the planner run again, as they must for new rows.
 */
public final class QueryTemplate {
    private final SparkSession session;
    private final LogicalPlan plan;
    private final List<LocalRelation> placeholders;

    private QueryTemplate(SparkSession session, LogicalPlan plan, List<LocalRelation> placeholders) {
        this.session = session;
        this.plan = plan;
        this.placeholders = placeholders;
    }

    /** An input to build templates over: no rows, the schema's columns, an identity of its own. */
    public static Dataset<Row> placeholder(SparkSession session, StructType schema) {
        // A new (empty) buffer per placeholder: its identity is what over() looks for.
        Seq<InternalRow> rows = JavaConverters.asScalaBuffer(new ArrayList<InternalRow>()).toSeq();
        // Scala's Seq is covariant; Java's generics are not: the attribute references, seen as attributes.
        @SuppressWarnings("unchecked")
        Seq<Attribute> columns = (Seq<Attribute>) (Seq<?>) DataTypeUtils.toAttributes(schema);
        return Dataset.ofRows(session, new LocalRelation(columns, rows, false));
    }

    /** The query's analysed plan, to run again over other rows in place of the placeholders' (in order). */
    public static QueryTemplate of(Dataset<Row> query, List<Dataset<Row>> placeholders) {
        List<LocalRelation> relations = new ArrayList<>();
        for (Dataset<Row> placeholder : placeholders) {
            LogicalPlan analysed = placeholder.queryExecution().analyzed();
            if (!(analysed instanceof LocalRelation)) {
                throw new IllegalArgumentException("a placeholder must come from QueryTemplate.placeholder, not " + analysed.nodeName());
            }
            relations.add((LocalRelation) analysed);
        }
        return new QueryTemplate(query.sparkSession(), query.queryExecution().analyzed(), relations);
    }

    /** The query over these inputs (same schemas as the placeholders, in order), analysed already. */
    public Dataset<Row> over(List<Dataset<Row>> inputs) {
        if (inputs.size() != placeholders.size()) {
            throw new IllegalArgumentException(placeholders.size() + " inputs expected, got " + inputs.size());
        }
        Map<Seq<InternalRow>, Seq<InternalRow>> rows = new IdentityHashMap<>();
        for (int index = 0; index < inputs.size(); index++) {
            rows.put(placeholders.get(index).data(), rowsOf(inputs.get(index), placeholders.get(index).schema(), index));
        }
        LogicalPlan rebound = rebound(plan, rows);
        // Analysed and checked as the template was: the same plan over rows of the same types.
        rebound.setAnalyzed();
        return Dataset.ofRows(session, rebound);
    }

    private static Seq<InternalRow> rowsOf(Dataset<Row> input, StructType expected, int index) {
        if (!input.schema().sameType(expected)) {
            throw new IllegalArgumentException(
                "input " + index + " has schema " + input.schema().simpleString() + ", the template's is " + expected.simpleString());
        }
        LogicalPlan analysed = input.queryExecution().analyzed();
        if (analysed instanceof LocalRelation) {
            return ((LocalRelation) analysed).data();
        }
        // Not a local relation (Spark makes an empty local DataFrame another way): its rows, collected once.
        List<InternalRow> copied = new ArrayList<>();
        for (InternalRow row : input.queryExecution().executedPlan().executeCollect()) {
            copied.add(row.copy());
        }
        return JavaConverters.asScalaBuffer(copied).toSeq();
    }

    private static LogicalPlan rebound(LogicalPlan node, Map<Seq<InternalRow>, Seq<InternalRow>> rows) {
        if (node instanceof LocalRelation) {
            LocalRelation relation = (LocalRelation) node;
            Seq<InternalRow> replacement = rows.get(relation.data());
            return replacement == null ? node : new LocalRelation(relation.output(), replacement, relation.isStreaming());
        }
        List<LogicalPlan> children = JavaConverters.seqAsJavaList(node.children());
        List<LogicalPlan> newChildren = new ArrayList<>(children.size());
        boolean changed = false;
        for (LogicalPlan child : children) {
            LogicalPlan newChild = rebound(child, rows);
            changed |= newChild != child;
            newChildren.add(newChild);
        }
        return changed ? node.withNewChildren(JavaConverters.asScalaBuffer(newChildren).toSeq()) : node;
    }
}
