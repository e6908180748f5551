"""The report's words in Vietnamese and English: one table, looked up by key (``text(lang, key)``), and
the names of every code a reader sees (groups, levels, pools, channels, units: ``code_label``).

Section titles follow STRESS-DES (Monks et al. 2019): objective, model logic, data and assumptions,
experimentation, results. Domain words are the ones a provincial office uses (hồ sơ, trễ hạn, một cửa,
thủ tục hành chính, toàn trình, một phần).

Over ~400 lines because it is one table of words: splitting it would scatter the translations.
"""

from __future__ import annotations

LANGS = ("vi", "en")

TEXT: dict[str, dict[str, str]] = {
    # titles
    "run_title": {"vi": "Báo cáo mô phỏng", "en": "Simulation report"},
    "compare_title": {"vi": "So sánh kịch bản", "en": "Scenario comparison"},
    "sweep_title": {"vi": "Quét tham số", "en": "Parameter sweep"},
    "plan_title": {"vi": "Lập kế hoạch", "en": "Planning"},
    "partial_banner": {
        "vi": "Kết quả dở dang: lần chạy bị dừng (Ctrl-C); chỉ gồm các lần lặp đã hoàn thành.",
        "en": "Partial results: the run was interrupted (Ctrl-C); only finished replications are included.",
    },
    # sections (STRESS-DES)
    "changes": {"vi": "Những gì thay đổi so với kịch bản gốc", "en": "What changes vs the baseline"},
    "differences": {"vi": "Chênh lệch theo cặp và kết luận", "en": "Paired differences and verdicts"},
    "objective": {"vi": "1. Mục tiêu", "en": "1. Objective"},
    "logic": {"vi": "2. Logic mô hình", "en": "2. Model logic"},
    "data": {"vi": "3. Dữ liệu và giả định", "en": "3. Data and assumptions"},
    "experimentation": {"vi": "4. Thiết kế thực nghiệm", "en": "4. Experimentation"},
    "results": {"vi": "5. Kết quả", "en": "5. Results"},
    # objective
    "objective_run": {
        "vi": "Ước lượng các chỉ số phục vụ người dân của kịch bản «{name}» (tỷ lệ hồ sơ trễ hạn, thời gian "
        "chờ tại bộ phận một cửa, tồn đọng, tỷ lệ trực tuyến thực chất, chỉ số Quyết định 766) kèm khoảng "
        "tin cậy 95%.",
        "en": "Estimate the citizen-service indicators of scenario “{name}” (overdue rate, waiting at the "
        "one-stop counters, backlog, genuine online rate, Decision 766 indicators) with 95% confidence "
        "intervals.",
    },
    "objective_compare": {
        "vi": "Phương án nào tốt hơn kịch bản gốc «{base}», tốt hơn bao nhiêu, và chắc chắn đến đâu? Mỗi "
        "phương án chạy với cùng hạt giống ngẫu nhiên (cùng công dân, cùng hồ sơ), nên chênh lệch được tính "
        "theo từng cặp lần lặp.",
        "en": "Which option is better than the baseline “{base}”, by how much, and how sure are we? Every "
        "option runs with the same seed (the same citizens and dossiers), so differences are paired "
        "replication by replication.",
    },
    "objective_sweep": {
        "vi": "Các chỉ số thay đổi thế nào khi «{path}» thay đổi (kịch bản «{name}»)?",
        "en": "How do the indicators move as “{path}” changes (scenario “{name}”)?",
    },
    "objective_plan": {
        "vi": "Giá trị nhỏ nhất của «{path}» để đạt mục tiêu {target} (cận trên của khoảng tin cậy 95%), "
        "kịch bản «{name}».",
        "en": "The smallest value of “{path}” that meets the target {target} (judged on the 95% confidence "
        "bound), scenario “{name}”.",
    },
    # model logic
    "logic_text": {
        "vi": "Hồ sơ đến theo quá trình Poisson không đồng nhất (tháng, ngày trong tuần, giờ; lễ, Tết). Mỗi "
        "hồ sơ chọn một kênh nộp: trực tuyến tự nộp, trực tuyến nhưng phải đến bộ phận một cửa, cán bộ nộp "
        "hộ, nộp giấy tại quầy, hoặc qua bưu chính. Quầy một cửa tiếp nhận trong giờ mở cửa; cán bộ chuyên "
        "môn xử lý trong giờ làm việc; hồ sơ có thể bị yêu cầu bổ sung; nhóm liên thông chuyển từ cơ quan "
        "này sang cơ quan khác; kết quả trả điện tử, qua bưu chính hoặc tại quầy; trạng thái đồng bộ lên "
        "Cổng Dịch vụ công quốc gia. Thời hạn tính theo ngày làm việc.",
        "en": "Dossiers arrive as a non-homogeneous Poisson process (month, weekday, hour; holidays and "
        "Tết). Each chooses a channel: self-service online, online with a counter visit, assisted filing "
        "by an officer, paper at the counter, or post. One-stop counters receive in opening hours; "
        "back-office officers work in working hours; a supplement request returns a dossier to the citizen; "
        "inter-linked groups pass it from agency to agency; results go back electronically, by post or at "
        "the counter; status changes sync to the national portal. Deadlines count working days.",
    },
    "flow_caption": {"vi": "Sơ đồ luồng xử lý hồ sơ", "en": "The dossier pipeline"},
    # data
    "data_catalog": {
        "vi": "Danh mục thủ tục: {total} thủ tục; {sourced} thủ tục có nguồn (chiếm {sourced_share} lượng hồ "
        "sơ dự kiến), {estimated} thủ tục ước lượng (ƯL). Chi tiết nguồn: scenarios/catalog/README.md.",
        "en": "Procedure catalog: {total} procedures; {sourced} sourced (carrying {sourced_share} of the "
        "expected dossiers), {estimated} estimated (EST). Sources: scenarios/catalog/README.md.",
    },
    "data_params": {
        "vi": "Tham số kịch bản được đánh dấu là ước lượng (EST) hoặc cần kiểm chứng (VERIFY) trong tệp, "
        "trích nguyên văn từ tệp (giá trị và chú thích bên cạnh):",
        "en": "Scenario parameters the files mark as estimates (EST) or to be verified (VERIFY), quoted "
        "from the files as written (the value and the comment beside it):",
    },
    "data_none": {"vi": "Không có tham số nào được đánh dấu.", "en": "No parameter is marked."},
    "parameter": {"vi": "Tham số", "en": "Parameter"},
    "value": {"vi": "Giá trị trong tệp", "en": "Value in the file"},
    "note": {"vi": "Chú thích trong tệp", "en": "Comment in the file"},
    "file": {"vi": "Tệp", "en": "File"},
    # experimentation
    "exp_scenario": {"vi": "Kịch bản", "en": "Scenario"},
    "exp_replications": {"vi": "Số lần lặp độc lập", "en": "Independent replications"},
    "exp_seed": {"vi": "Hạt giống ngẫu nhiên", "en": "Seed"},
    "exp_start": {"vi": "Ngày bắt đầu", "en": "Start date"},
    "exp_horizon": {"vi": "Thời gian mô phỏng (ngày)", "en": "Horizon (days)"},
    "exp_warmup": {"vi": "Khởi động", "en": "Warm-up"},
    "exp_warmup_days": {
        "vi": "{days} ngày khởi động (không tính)",
        "en": "{days} warm-up days (not counted)",
    },
    "exp_backlog": {"vi": "tồn đọng ban đầu theo nhóm cán bộ", "en": "initial backlog per pool"},
    "exp_crn": {
        "vi": "Số ngẫu nhiên chung: mỗi hoạt động (đến, kênh, xử lý…) có luồng ngẫu nhiên riêng theo nhóm "
        "thủ tục; lần lặp r dùng luồng con thứ r của hạt giống.",
        "en": "Common random numbers: every activity (arrivals, channels, effort…) has its own random stream "
        "per procedure group; replication r uses the r-th child stream of the seed.",
    },
    "exp_ci": {
        "vi": "Khoảng tin cậy 95% theo phân phối t trên các lần lặp.",
        "en": "95% t-intervals over the replications.",
    },
    "exp_software": {"vi": "Phần mềm", "en": "Software"},
    "exp_command": {"vi": "Lệnh", "en": "Command"},
    # results
    "kpi": {"vi": "Chỉ số", "en": "KPI"},
    "mean": {"vi": "Trung bình", "en": "Mean"},
    "ci": {"vi": "Khoảng tin cậy 95%", "en": "95% CI"},
    "ci_difference": {"vi": "Khoảng tin cậy 95% của chênh lệch", "en": "95% CI of the difference"},
    "unit": {"vi": "Đơn vị", "en": "Unit"},
    "baseline": {"vi": "Gốc", "en": "Baseline"},
    "whatif": {"vi": "Phương án", "en": "What-if"},
    "baseline_mean": {"vi": "Gốc (trung bình)", "en": "Baseline mean"},
    "whatif_mean": {"vi": "Phương án (trung bình)", "en": "What-if mean"},
    "difference": {"vi": "Chênh lệch (phương án − gốc)", "en": "Difference (what-if − baseline)"},
    "verdict": {"vi": "Kết luận", "en": "Verdict"},
    "better": {"vi": "tốt hơn", "en": "better"},
    "worse": {"vi": "kém hơn", "en": "worse"},
    "higher": {"vi": "cao hơn", "en": "higher"},
    "lower": {"vi": "thấp hơn", "en": "lower"},
    "no significant change": {"vi": "không khác biệt có ý nghĩa thống kê", "en": "no significant change"},
    "no material change": {"vi": "không thay đổi đáng kể", "en": "no material change"},
    "no_changes": {
        "vi": "Không có tham số nào khác kịch bản gốc.",
        "en": "No parameter differs from the baseline.",
    },
    "all_kpis": {"vi": "Tất cả chỉ số", "en": "All KPIs"},
    # plots
    "plot_overdue": {
        "vi": "Tỷ lệ hồ sơ trễ hạn theo cấp và nhóm thủ tục",
        "en": "Overdue rate by level and procedure group",
    },
    "plot_overdue_level": {"vi": "Theo cấp", "en": "By level"},
    "plot_overdue_group": {"vi": "Theo nhóm thủ tục", "en": "By procedure group"},
    "plot_overdue_axis": {"vi": "Tỷ lệ trễ hạn", "en": "Overdue rate"},
    "plot_wait": {"vi": "Phân phối thời gian chờ tại quầy một cửa", "en": "Counter-wait distribution"},
    "plot_wait_x": {"vi": "Thời gian chờ (phút mở cửa)", "en": "Wait (open minutes)"},
    "plot_wait_y": {"vi": "Tỷ lệ lượt đến chờ không quá x phút", "en": "Share of visits waiting at most x"},
    "plot_backlog": {"vi": "Hồ sơ tồn đọng theo ngày", "en": "Backlog over the year"},
    "plot_backlog_y": {"vi": "Hồ sơ đang xử lý cuối ngày", "en": "Dossiers in progress at day's end"},
    "plot_channels": {
        "vi": "Cơ cấu kênh nộp: trực tuyến báo cáo và trực tuyến thực chất",
        "en": "Channel mix: reported vs genuine online",
    },
    "plot_channels_share": {"vi": "Tỷ lệ hồ sơ", "en": "Share of dossiers"},
    "reported_online": {"vi": "Trực tuyến (báo cáo)", "en": "Online (reported)"},
    "genuine_online": {
        "vi": "Trực tuyến thực chất (không đến quầy)",
        "en": "Genuine online (no counter visit)",
    },
    "ch_self_service": {"vi": "Tự nộp trực tuyến", "en": "Self-service online"},
    "ch_online_with_visit": {"vi": "Trực tuyến, phải đến quầy", "en": "Online with a counter visit"},
    "ch_assisted": {"vi": "Cán bộ nộp hộ", "en": "Assisted by an officer"},
    "ch_counter": {"vi": "Nộp giấy tại quầy", "en": "Paper at the counter"},
    "ch_postal": {"vi": "Qua bưu chính", "en": "By post"},
    "plot_heatmap": {
        "vi": "Mức bận của cán bộ theo giờ và thứ: bộ phận một cửa và cán bộ chuyên môn",
        "en": "Officers' utilisation by hour and weekday: one-stop counters and back office",
    },
    "heatmap_counter": {"vi": "Cán bộ một cửa", "en": "One-stop counter officers"},
    "heatmap_back_office": {"vi": "Cán bộ chuyên môn (xử lý hồ sơ)", "en": "Back-office officers"},
    "hour": {"vi": "Giờ", "en": "Hour"},
    "weekdays": {"vi": "T2,T3,T4,T5,T6,T7,CN", "en": "Mon,Tue,Wed,Thu,Fri,Sat,Sun"},
    "utilisation": {"vi": "Mức bận", "en": "Utilisation"},
    "plot_766": {
        "vi": "Chỉ số Quyết định 766 (ước lượng) so với mức tham chiếu 82,18",
        "en": "Decision 766 indicators (estimated) against the reference 82.18",
    },
    "plot_766_points": {"vi": "Điểm", "en": "Points"},
    "plot_766_share": {"vi": "% điểm tối đa", "en": "% of the maximum"},
    "plot_766_max": {"vi": "Tối đa", "en": "Maximum"},
    "plot_766_est": {"vi": "Ước lượng", "en": "Estimate"},
    "plot_766_reference": {
        "vi": "Tham chiếu 82,18/100 (Nam Định 2024)",
        "en": "Reference 82.18/100 (Nam Định 2024)",
    },
    "plot_766_covered": {"vi": "Các nhóm mô hình bao quát", "en": "Groups the model covers"},
    "g766_timeliness": {"vi": "Tiến độ", "en": "Timeliness"},
    "g766_online_service": {"vi": "DVC trực tuyến", "en": "Online service"},
    "g766_digitisation": {"vi": "Số hóa", "en": "Digitisation"},
    "g766_transparency_sync": {"vi": "Đồng bộ (công khai)", "en": "Sync (transparency)"},
    "note_766": {
        "vi": "Ước lượng chỉ gồm các nhóm mô hình bao quát (tối đa 68,5 điểm); nhóm hài lòng và phần còn lại "
        "của nhóm công khai không được mô hình hóa, nên so sánh theo % điểm tối đa.",
        "en": "Estimates cover only the groups the model represents (68.5 points at most); satisfaction and "
        "the rest of transparency are not modelled, so the comparison is in % of the maximum.",
    },
    "plot_forest": {
        "vi": "Chênh lệch theo cặp (% so với gốc, khoảng tin cậy 95%)",
        "en": "Paired differences (% of the baseline, 95% CI)",
    },
    "plot_forest_axis": {"vi": "% so với gốc", "en": "% of the baseline"},
    "plot_sweep": {
        "vi": "Chỉ số theo giá trị tham số (dải: khoảng tin cậy 95%)",
        "en": "KPIs by parameter value (band: 95% CI)",
    },
    "target": {"vi": "Mục tiêu", "en": "Target"},
    "no_counter_data": {"vi": "không có dữ liệu", "en": "no data"},
    # sweep / plan
    "sweep_table": {"vi": "Bảng kết quả theo giá trị", "en": "Results by value"},
    "failed_point": {"vi": "quá tải (hàng đợi không giải phóng)", "en": "overloaded (queues never drain)"},
    "plan_answer": {
        "vi": "Giá trị nhỏ nhất đạt mục tiêu: {path} = {value}. {kpi} = {mean} (khoảng tin cậy 95%: {low} – "
        "{high}); độ tin cậy một phía rằng mục tiêu đạt được: {confidence}.",
        "en": "Smallest value meeting the target: {path} = {value}. {kpi} = {mean} (95% CI {low} – {high}); "
        "one-sided confidence that the target holds: {confidence}.",
    },
    "plan_below": {
        "vi": "Giá trị liền dưới đã thử, {value}, không đạt: {kpi} = {mean} (cận {bound}).",
        "en": "The value tried just below, {value}, does not: {kpi} = {mean} (bound {bound}).",
    },
    "plan_none": {
        "vi": "Không giá trị nào trong khoảng đã thử đạt mục tiêu {target}.",
        "en": "No value in the range tried meets the target {target}.",
    },
    "plan_partial": {
        "vi": "Tìm kiếm bị dừng (Ctrl-C) trước khi hoàn tất: giá trị dưới đây là nhỏ nhất trong các giá "
        "trị đã thử, chưa chắc là nhỏ nhất.",
        "en": "The search was interrupted (Ctrl-C) before it finished: the value below is the smallest of "
        "those tried, not necessarily the smallest.",
    },
    "plan_points": {"vi": "Các giá trị đã thử (tìm kiếm nhị phân)", "en": "Values tried (bisection)"},
    "meets": {"vi": "Đạt", "en": "Meets"},
    "confidence": {"vi": "Độ tin cậy", "en": "Confidence"},
    "yes": {"vi": "có", "en": "yes"},
    "no": {"vi": "không", "en": "no"},
    "generated": {"vi": "Tạo lúc", "en": "Generated"},
    # the first screen: what was asked, the answer, how sure
    "asked": {"vi": "Câu hỏi", "en": "The question"},
    "answer": {"vi": "Trả lời", "en": "The answer"},
    "how_sure": {"vi": "Chắc chắn đến đâu", "en": "How sure"},
    "asked_run": {
        "vi": "Với kịch bản «{name}», các thủ tục hành chính (toàn trình và một phần) được giải quyết thế "
        "nào: bao nhiêu hồ sơ trễ hạn, người dân chờ bao lâu, bao nhiêu hồ sơ thực sự trực tuyến?",
        "en": "Under scenario “{name}”, how are the administrative procedures (full and partial online) "
        "handled: how many dossiers are overdue, how long citizens wait, how many are genuinely online?",
    },
    "asked_compare": {
        "vi": "So với kịch bản gốc «{base}», phương án {whatifs} thay đổi gì đối với việc giải quyết thủ tục "
        "hành chính?",
        "en": "Against the baseline “{base}”, what does {whatifs} change in how administrative procedures "
        "are handled?",
    },
    "asked_sweep": {
        "vi": "Khi «{path}» lấy các giá trị {values} (kịch bản «{name}»), các chỉ số chính thay đổi thế nào?",
        "en": "As “{path}” takes the values {values} (scenario “{name}”), how do the main indicators move?",
    },
    "asked_plan": {
        "vi": "Cần giá trị nhỏ nhất nào của «{path}» để đạt mục tiêu: {target} (kịch bản «{name}»)?",
        "en": "What is the smallest value of “{path}” that meets the target {target} (scenario “{name}”)?",
    },
    "answer_run": {
        "vi": "{overdue} hồ sơ trễ hạn; {online} hồ sơ trực tuyến thực chất (không phải đến quầy).",
        "en": "{overdue} of dossiers are overdue; {online} are genuinely online (no counter visit).",
    },
    "answer_compare_none": {
        "vi": "Phương án «{name}» không làm thay đổi đáng kể chỉ số chính nào.",
        "en": "“{name}” makes no material change to any headline indicator.",
    },
    "answer_compare": {
        "vi": "Phương án «{name}»: {changes}.",
        "en": "“{name}”: {changes}.",
    },
    "answer_change": {
        "vi": "{kpi} {verdict}: {base} → {whatif} ({diff})",
        "en": "{kpi} {verdict}: {base} → {whatif} ({diff})",
    },
    "answer_sweep": {
        "vi": "Từ {first} đến {last}: {kpi} đi từ {low} đến {high}.",
        "en": "From {first} to {last}: {kpi} goes from {low} to {high}.",
    },
    "how_sure_text": {
        "vi": "Mỗi con số là trung bình của {n} lần mô phỏng độc lập, mỗi lần {days} ngày ({period}), cùng "
        "điều kiện nhưng khác may rủi. Khoảng tin cậy 95% cho biết: nếu lặp lại cả nghiên cứu nhiều lần, "
        "khoảng tính theo cách này chứa giá trị thật trong 95 trên 100 lần. Khoảng càng hẹp, con số càng "
        "chắc.",
        "en": "Each figure is the mean of {n} independent simulated runs of {days} days ({period}), same "
        "conditions but different luck. "
        "The 95% interval means: were the whole study repeated many times, an interval computed this way "
        "would contain the true value 95 times in 100. The narrower the interval, the surer the figure.",
    },
    "period": {"vi": "từ {first} đến {last}", "en": "{first} to {last}"},
    "how_sure_compare": {
        "vi": "Kết luận «tốt hơn» hoặc «kém hơn» chỉ được đưa ra khi khoảng tin cậy 95% của chênh lệch không "
        "chứa 0 và chênh lệch đạt ít nhất mức tối thiểu trong bảng dưới. Khi khoảng chứa 0, kết luận là "
        "«không khác biệt có ý nghĩa thống kê» (chênh lệch có thể chỉ do may rủi); khi khoảng không chứa 0 "
        "nhưng chênh lệch nhỏ hơn mức tối thiểu, kết luận là «không thay đổi đáng kể».",
        "en": "A change is called better or worse only when the 95% interval of the difference excludes zero "
        "and the difference reaches at least the minimal difference below. When the interval contains zero "
        "the verdict is “no significant change” (the difference may be luck alone); when it excludes zero "
        "but the difference is below the minimum, it is “no material change”.",
    },
    "headline_kpis": {"vi": "Chỉ số chính", "en": "Headline indicators"},
    "changes_short": {"vi": "Phương án thay đổi", "en": "What the option changes"},
    "minimal_differences": {"vi": "Mức chênh lệch tối thiểu", "en": "Minimal difference"},
    "quoted": {"vi": "«{words}»", "en": "“{words}”"},
    "minimal_relative": {"vi": "{share} so với gốc", "en": "{share} of the baseline"},
    "interval": {"vi": "{low} đến {high}", "en": "{low} to {high}"},
    "no_interval": {
        "vi": "không có (cần ít nhất 2 lần chạy lặp)",
        "en": "none (needs at least 2 replications)",
    },
    "range_values": {"vi": "{first} … {last}", "en": "{first} … {last}"},
    "staffing_of": {"vi": "Số cán bộ {pool}, {level}", "en": "Officers, {pool}, {level}"},
    "counter_officers": {"vi": "Số cán bộ một cửa, {level}", "en": "Counter officers, {level}"},
    "minimal_fraction": {
        "vi": "Tỷ lệ (trễ hạn, trực tuyến, mức bận…)",
        "en": "Rates (overdue, online, utilisation…)",
    },
    "minimal_minutes": {"vi": "Thời gian chờ", "en": "Waiting times"},
    "minimal_trips": {"vi": "Số lần đi lại mỗi hồ sơ", "en": "Trips per dossier"},
    "minimal_points": {"vi": "Điểm Chỉ số 766", "en": "Decision 766 points"},
    "minimal_dossiers": {"vi": "Số hồ sơ, phiếu xin lỗi", "en": "Dossiers, apology slips"},
    "minimal_VND": {"vi": "Chi phí (đồng)", "en": "Costs (VND)"},
    "plan_closest": {
        "vi": "Gần đạt nhất: {path} = {value}, {kpi} = {mean}; cận của khoảng tin cậy {bound} còn cách mục "
        "tiêu {missed} (độ tin cậy đạt mục tiêu {confidence}).",
        "en": "Closest: {path} = {value}, {kpi} = {mean}; its interval's bound {bound} misses the target by "
        "{missed} (confidence that the target holds {confidence}).",
    },
}


def text(lang: str, key: str, **values: object) -> str:
    entry = TEXT[key]
    words = entry.get(lang) or entry["en"]
    return words.format(**values) if values else words


# KPI names as a planner reads them (the dotted suffix, e.g. a group, is appended as is).
KPI_LABELS: dict[str, dict[str, str]] = {
    "dossiers": {"vi": "Số hồ sơ", "en": "Dossiers"},
    "overdue_rate": {"vi": "Tỷ lệ trễ hạn", "en": "Overdue rate"},
    "on_time_rate": {"vi": "Tỷ lệ đúng hạn", "en": "On-time rate"},
    "early_rate": {"vi": "Tỷ lệ trước hạn", "en": "Early rate"},
    "apology_slips": {"vi": "Phiếu xin lỗi", "en": "Apology slips"},
    "counter_wait_mean_min": {"vi": "Chờ tại quầy, trung bình", "en": "Counter wait, mean"},
    "counter_wait_p90_min": {"vi": "Chờ tại quầy, phân vị 90", "en": "Counter wait, 90th percentile"},
    "trips_per_dossier": {"vi": "Số lần đi lại mỗi hồ sơ", "en": "Trips per dossier"},
    "reported_online_rate": {"vi": "Tỷ lệ trực tuyến (báo cáo)", "en": "Reported online rate"},
    "self_service_online_rate": {"vi": "Tỷ lệ trực tuyến thực chất", "en": "Genuine online rate"},
    "online_payment_rate": {"vi": "Tỷ lệ thanh toán trực tuyến", "en": "Online payment rate"},
    "digitised_rate": {"vi": "Tỷ lệ số hóa", "en": "Digitised rate"},
    "postal_return_share": {"vi": "Tỷ lệ trả kết quả qua bưu chính", "en": "Postal return share"},
    "sync_discrepancy": {"vi": "Sai lệch đồng bộ", "en": "Sync discrepancy"},
    # families: {} is the dotted part in words (a level, a group, a pool)
    "overdue_rate_by_level": {"vi": "Tỷ lệ trễ hạn {}", "en": "Overdue rate, {}"},
    "overdue_rate_by_group": {"vi": "Tỷ lệ trễ hạn, lĩnh vực {}", "en": "Overdue rate, {}"},
    "utilisation": {"vi": "Mức bận: {}", "en": "Utilisation: {}"},
    "utilisation_max": {"vi": "Mức bận của đơn vị bận nhất: {}", "en": "Utilisation of the busiest unit: {}"},
    "index_766": {"vi": "Chỉ số 766 (ƯL): {}", "en": "Decision 766 (est.): {}"},
    "postal_fees_vnd": {"vi": "Cước bưu chính trả kết quả", "en": "Postal return fees"},
    "supplement_rate": {"vi": "Tỷ lệ hồ sơ phải bổ sung", "en": "Supplement rate"},
    "interlinked_share": {"vi": "Tỷ lệ hồ sơ liên thông", "en": "Inter-linked share"},
    "dossier_share_by_level": {"vi": "Tỷ trọng hồ sơ {}", "en": "Share of dossiers, {}"},
}

# Sectors that name both a procedure group and the officer pool (agency) handling it.
_SECTORS: dict[str, dict[str, str]] = {
    "agriculture": {"vi": "Nông nghiệp", "en": "Agriculture"},
    "construction": {"vi": "Xây dựng", "en": "Construction"},
    "culture": {"vi": "Văn hóa", "en": "Culture"},
    "education": {"vi": "Giáo dục", "en": "Education"},
    "environment": {"vi": "Tài nguyên, môi trường", "en": "Environment"},
    "finance": {"vi": "Tài chính", "en": "Finance"},
    "health": {"vi": "Y tế", "en": "Health"},
    "home_affairs": {"vi": "Nội vụ", "en": "Home affairs"},
    "industry_trade": {"vi": "Công thương", "en": "Industry and trade"},
    "justice": {"vi": "Tư pháp", "en": "Justice"},
    "land": {"vi": "Đất đai", "en": "Land"},
    "transport": {"vi": "Giao thông vận tải", "en": "Transport"},
}

# Codes a reader meets in tables and plots, by kind: procedure groups, levels, officer pools (agencies),
# channels, online levels and units. An unknown code is shown as it is.
CODES: dict[str, dict[str, dict[str, str]]] = {
    "group": {
        **_SECTORS,
        "business": {"vi": "Đăng ký kinh doanh", "en": "Business registration"},
        "certification": {"vi": "Chứng thực", "en": "Certification"},
        "civil_status": {"vi": "Hộ tịch", "en": "Civil status"},
        "health_insurance": {"vi": "Bảo hiểm y tế", "en": "Health insurance"},
        "residence": {"vi": "Cư trú", "en": "Residence"},
        "social_protection": {"vi": "Bảo trợ xã hội", "en": "Social protection"},
    },
    "level": {
        "province": {"vi": "cấp tỉnh", "en": "province level"},
        "district": {"vi": "cấp huyện", "en": "district level"},
        "commune": {"vi": "cấp xã", "en": "commune level"},
    },
    "pool": {
        **_SECTORS,
        "general": {"vi": "Văn phòng (tổng hợp)", "en": "General office"},
        "police": {"vi": "Công an", "en": "Police"},
        "social": {"vi": "Văn hóa – xã hội", "en": "Social affairs"},
        "economy": {"vi": "Kinh tế", "en": "Economy"},
        "labour": {"vi": "Lao động – TB&XH", "en": "Labour"},
        "social_insurance": {"vi": "Bảo hiểm xã hội", "en": "Social insurance"},
        "planning": {"vi": "Kế hoạch – đầu tư", "en": "Planning and investment"},
        "counter": {"vi": "Bộ phận một cửa", "en": "One-stop counter"},
    },
    "channel": {
        "self_service": {"vi": "Tự nộp trực tuyến", "en": "Self-service online"},
        "online_with_visit": {"vi": "Trực tuyến, phải đến quầy", "en": "Online with a counter visit"},
        "assisted": {"vi": "Cán bộ nộp hộ", "en": "Assisted by an officer"},
        "counter": {"vi": "Nộp giấy tại quầy", "en": "Paper at the counter"},
        "postal": {"vi": "Qua bưu chính", "en": "By post"},
    },
    "online_level": {
        "full": {"vi": "toàn trình", "en": "full online"},
        "partial": {"vi": "một phần", "en": "partial online"},
    },
    "unit": {
        "fraction": {"vi": "tỷ lệ (%)", "en": "share (%)"},
        "minutes": {"vi": "phút", "en": "minutes"},
        "trips": {"vi": "lượt đi lại", "en": "trips"},
        "dossiers": {"vi": "hồ sơ", "en": "dossiers"},
        "points": {"vi": "điểm", "en": "points"},
        "VND": {"vi": "đồng", "en": "VND"},
        "percentage_points": {"vi": "điểm phần trăm", "en": "percentage points"},
    },
}


def code_label(lang: str, kind: str, code: str) -> str:
    """A code in the reader's words (``code_label("vi", "group", "land")`` → "Đất đai")."""
    entry = CODES.get(kind, {}).get(code)
    return (entry.get(lang) or entry["en"]) if entry else code


def _suffix(lang: str, head: str, rest: str) -> str:
    """The dotted part of a KPI name in words: a level, a group, or a pool (``district.land``)."""
    if head.endswith("by_level"):
        return code_label(lang, "level", rest)
    if head.endswith("by_group"):
        return code_label(lang, "group", rest)
    if head in ("utilisation", "utilisation_max"):
        unit, _, pool = rest.partition(".")
        if unit == "counter":
            return f"{code_label(lang, 'pool', 'counter')}, {code_label(lang, 'level', pool)}"
        return f"{code_label(lang, 'pool', pool)}, {code_label(lang, 'level', unit)}"
    if head == "index_766":
        return text(lang, f"g766_{rest}") if f"g766_{rest}" in TEXT else rest
    return rest


def kpi_label(lang: str, kpi: str) -> str:
    head, _, rest = kpi.partition(".")
    if kpi in KPI_LABELS:
        return KPI_LABELS[kpi].get(lang, kpi)
    if head in KPI_LABELS:
        return KPI_LABELS[head].get(lang, head).format(_suffix(lang, head, rest))
    return kpi
