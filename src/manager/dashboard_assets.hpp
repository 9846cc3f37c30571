// The dashboard's files (src/manager/dashboard/), compiled into the binary
// by cmake/EmbedFiles.cmake, so that the page needs nothing from the network
// and nothing installed beside `uni`.
#pragma once

#include <string_view>

namespace uni::manager {

struct DashboardAsset {
  std::string_view path;  // "/", "/dashboard.js", ...
  std::string_view content_type;
  std::string_view body;
};

// The asset served at `path`, or null.
const DashboardAsset* find_dashboard_asset(std::string_view path);

}  // namespace uni::manager
